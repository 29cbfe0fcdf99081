/* The filter parser: recursive descent over Milvus's boolean expression grammar into an AST
 * held in one arena, with type checking against the schema as each node is built. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "expr_int.h"

/* ---- the arena: nodes, lists and strings live until vdb_expr_free ---- */

typedef struct vdb_xblock {
    struct vdb_xblock *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} vdb_xblock;

void *vdb_expr_alloc(vdb_expr *e, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    vdb_xblock *b = e->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = VDB_MAX(n, (size_t)8192);
        b = vdb_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = e->arena;
        e->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void vdb_expr_free(vdb_expr *e)
{
    if (!e)
        return;
    for (vdb_xblock *b = e->arena, *next; b; b = next) {
        next = b->next;
        vdb_free(b);
    }
    vdb_free(e->uses);
    vdb_free(e);
}

/* ---- parser state and messages ---- */

typedef struct xp {
    const char *s;
    size_t n;
    const vdb_expr_schema *schema;
    vdb_expr *e;
    vdb_xtok tok; /* the current token */
    int depth;
} xp;

static vdb_status next(xp *p) { return vdb_expr_lex(p->s, p->n, p->tok.pos + p->tok.len, &p->tok); }

static vdb_status expected(xp *p, const char *what)
{
    if (p->tok.kind == XT_END)
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected %s, found end of input",
                              p->tok.pos, what);
    int len = (int)VDB_MIN(p->tok.len, (size_t)24);
    return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected %s, found '%.*s%s'", p->tok.pos,
                          what, len, p->s + p->tok.pos, p->tok.len > 24 ? "..." : "");
}

static vdb_status oom(void) { return vdb_set_errmsg(VDB_ENOMEM, "filter: out of memory"); }

static vdb_status enter(xp *p)
{
    if (++p->depth > VDB_EXPR_MAX_DEPTH)
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expression nested deeper than %d",
                              p->tok.pos, VDB_EXPR_MAX_DEPTH);
    return VDB_OK;
}

static vdb_xnode *new_node(xp *p, vdb_xkind kind, vdb_xtype type, size_t pos)
{
    vdb_xnode *x = vdb_expr_alloc(p->e, sizeof *x);
    if (x) {
        x->kind = kind;
        x->type = type;
        x->pos = pos;
        x->height = 1;
    }
    return x;
}

/* Sets x's height from its children; a tall tree would overflow the evaluator's stack. */
static vdb_status grow(xp *p, vdb_xnode *x)
{
    int h = 0;
    if (x->a)
        h = x->a->height;
    if (x->b)
        h = VDB_MAX(h, x->b->height);
    for (size_t i = 0; i < x->nkids; i++)
        h = VDB_MAX(h, x->kids[i]->height);
    x->height = h + 1;
    if (x->height > VDB_EXPR_MAX_DEPTH)
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expression nested deeper than %d",
                              x->pos, VDB_EXPR_MAX_DEPTH);
    return VDB_OK;
}

static vdb_xtype class_of(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_BOOL: return XY_BOOL;
    case VDB_TYPE_INT8:
    case VDB_TYPE_INT16:
    case VDB_TYPE_INT32:
    case VDB_TYPE_INT64: return XY_INT;
    case VDB_TYPE_FLOAT:
    case VDB_TYPE_DOUBLE: return XY_FLOAT;
    case VDB_TYPE_VARCHAR: return XY_STR;
    case VDB_TYPE_JSON: return XY_JSON;
    case VDB_TYPE_ARRAY: return XY_ARRAY;
    default: return XY_NONE;
    }
}

static bool is_num(vdb_xtype t) { return t == XY_INT || t == XY_FLOAT; }

/* "field 'age' is INT64", for the subject of a type error. */
static void describe_subject(const vdb_xnode *x, char *buf, size_t size)
{
    const char *name = x->field ? x->field->name : "$meta";
    if (x->kind == XN_FIELD)
        snprintf(buf, size, "field '%s' is %s", name, vdb_type_name(x->field->type));
    else if (x->kind == XN_JSON && x->elem != XY_NONE && x->nsteps)
        snprintf(buf, size, "elements of field '%s' are %s", name,
                 vdb_type_name(x->field->element_type));
    else if (x->kind == XN_JSON && x->type == XY_ARRAY)
        snprintf(buf, size, "field '%s' is ARRAY", name);
    else if (x->kind == XN_JSON)
        snprintf(buf, size, "field '%s' is JSON", name);
    else if (x->type == XY_COND)
        snprintf(buf, size, "the condition at %zu is not a value", x->pos);
    else
        snprintf(buf, size, "the expression at %zu is a number", x->pos);
}

/* "a string", "field 'b' (VARCHAR)", for the object of a type error. */
static void describe_object(const vdb_xnode *x, char *buf, size_t size)
{
    if (x->kind == XN_FIELD) {
        snprintf(buf, size, "field '%s' (%s)", x->field->name, vdb_type_name(x->field->type));
        return;
    }
    switch (x->type) {
    case XY_INT:
    case XY_FLOAT: snprintf(buf, size, "a number"); break;
    case XY_BOOL: snprintf(buf, size, "a bool"); break;
    case XY_STR: snprintf(buf, size, "a string"); break;
    case XY_LIST: snprintf(buf, size, "a list"); break;
    case XY_ARRAY: snprintf(buf, size, "an array"); break;
    case XY_COND: snprintf(buf, size, "a condition"); break;
    default: snprintf(buf, size, "a JSON value"); break;
    }
}

static bool is_ref(const vdb_xnode *x) { return x->kind == XN_FIELD || x->kind == XN_JSON; }

static vdb_status type_error(const vdb_xnode *a, const vdb_xnode *b, const char *verb)
{
    if (!is_ref(a) && is_ref(b)) {
        const vdb_xnode *t = a;
        a = b;
        b = t;
    }
    char sa[160], sb[160];
    describe_subject(a, sa, sizeof sa);
    describe_object(b, sb, sizeof sb);
    return vdb_set_errmsg(VDB_EINVAL, "filter: %s, cannot %s %s", sa, verb, sb);
}

/* Whether values of static types a and b may be compared (JSON is typed per row). */
static bool comparable(vdb_xtype a, vdb_xtype b)
{
    bool ascalar = a == XY_INT || a == XY_FLOAT || a == XY_BOOL || a == XY_STR || a == XY_JSON;
    bool bscalar = b == XY_INT || b == XY_FLOAT || b == XY_BOOL || b == XY_STR || b == XY_JSON;
    if (!ascalar || !bscalar)
        return false;
    if (a == XY_JSON || b == XY_JSON)
        return true;
    return a == b || (is_num(a) && is_num(b));
}

/* A value where one is needed (not a condition, list or whole array). */
static vdb_status need_value(const vdb_xnode *x)
{
    if (x->type == XY_COND)
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected a value, found a condition",
                              x->pos);
    if (x->type == XY_LIST)
        return vdb_set_errmsg(VDB_EINVAL,
                              "filter: at %zu: expected a value, found a list (lists go after "
                              "'in' or in json_contains_*/array_contains_*)",
                              x->pos);
    if (x->type == XY_ARRAY)
        return vdb_set_errmsg(VDB_EINVAL,
                              "filter: field '%s' is ARRAY, use an element (%s[0]), "
                              "array_contains or array_length",
                              x->field->name, x->field->name);
    return VDB_OK;
}

static vdb_status add_use(xp *p, size_t col, vdb_type type)
{
    for (size_t i = 0; i < p->e->nuses; i++)
        if (p->e->uses[i].col == col)
            return VDB_OK;
    vdb_xuse *u = vdb_realloc(p->e->uses, (p->e->nuses + 1) * sizeof *u);
    if (!u)
        return oom();
    p->e->uses = u;
    u[p->e->nuses].col = col;
    u[p->e->nuses].type = type;
    p->e->nuses++;
    return VDB_OK;
}

/* A condition from a node: bool fields and JSON values stand for `x == true`. */
static vdb_status to_cond(xp *p, vdb_xnode **x)
{
    vdb_xnode *v = *x;
    if (v->type == XY_COND)
        return VDB_OK;
    if (v->kind == XN_CONST && v->type == XY_BOOL) {
        v->kind = XN_BOOL;
        v->type = XY_COND;
        return VDB_OK;
    }
    if (!is_ref(v) || (v->type != XY_BOOL && v->type != XY_JSON))
        return expected(p, "a comparison");
    vdb_xnode *t = new_node(p, XN_CONST, XY_BOOL, v->pos);
    vdb_xnode *c = new_node(p, XN_CMP, XY_COND, v->pos);
    if (!t || !c)
        return oom();
    t->c.type = XY_BOOL;
    t->c.i = 1;
    c->op = XO_EQ;
    c->a = v;
    c->b = t;
    *x = c;
    return grow(p, c);
}

/* ---- values ---- */

static vdb_status parse_or(xp *p, vdb_xnode **out);
static vdb_status parse_add(xp *p, vdb_xnode **out);
static vdb_status parse_unary(xp *p, vdb_xnode **out);

static vdb_status build_arith(xp *p, int op, vdb_xnode *a, vdb_xnode *b, size_t pos,
                              vdb_xnode **out)
{
    vdb_xnode *side[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        vdb_xnode *x = side[i];
        vdb_status st = need_value(x);
        if (st != VDB_OK)
            return st;
        if (is_num(x->type) || x->type == XY_JSON)
            continue;
        if (is_ref(x)) {
            char sa[160];
            describe_subject(x, sa, sizeof sa);
            return vdb_set_errmsg(VDB_EINVAL, "filter: %s, cannot be used in arithmetic", sa);
        }
        char sb[64];
        describe_object(x, sb, sizeof sb);
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: %s cannot be used in arithmetic",
                              x->pos, sb);
    }
    if ((op == XO_DIV || op == XO_MOD) && b->kind == XN_CONST &&
        ((b->c.type == XY_INT && b->c.i == 0) || (b->c.type == XY_FLOAT && b->c.d == 0)))
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: division by zero", pos);
    vdb_xnode *x = new_node(p, XN_ARITH, XY_INT, a->pos);
    if (!x)
        return oom();
    if (a->kind == XN_CONST && b->kind == XN_CONST) {
        x->kind = XN_CONST;
        if (!vdb_expr_arith(op, &a->c, &b->c, &x->c))
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: the constant arithmetic has no "
                                  "finite result", pos);
        x->type = x->c.type;
        *out = x;
        return VDB_OK;
    }
    x->op = op;
    x->a = a;
    x->b = b;
    if (a->type != XY_INT || b->type != XY_INT || op == XO_POW)
        x->type = XY_FLOAT; /* numeric either way; the row decides int or float */
    *out = x;
    return grow(p, x);
}

/* A string literal's unescaped text in the arena, NUL-terminated. */
static vdb_status take_string(xp *p, const char **s, size_t *len)
{
    const char *raw = p->s + p->tok.pos + 1;
    size_t n = p->tok.len - 2;
    char *o = vdb_expr_alloc(p->e, n + 1);
    if (!o)
        return oom();
    *len = vdb_expr_unescape(raw, n, o);
    o[*len] = 0;
    *s = o;
    return next(p);
}

static vdb_status parse_list(xp *p, vdb_xnode **out)
{
    vdb_xnode *x = new_node(p, XN_LIST, XY_LIST, p->tok.pos);
    vdb_buf items = {0};
    vdb_status st;
    if (!x)
        return oom();
    if (p->tok.kind != XT_LBRACK)
        return expected(p, "a list '['");
    if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK)
        return st;
    while (p->tok.kind != XT_RBRACK) {
        if (x->nlist) {
            if (p->tok.kind != XT_COMMA) {
                st = expected(p, "',' or ']' in the list");
                goto fail;
            }
            if ((st = next(p)) != VDB_OK)
                goto fail;
        }
        vdb_xnode *v;
        size_t at = p->tok.pos;
        if ((st = parse_unary(p, &v)) != VDB_OK)
            goto fail;
        if (v->kind != XN_CONST) {
            st = vdb_set_errmsg(VDB_EINVAL,
                                "filter: at %zu: expected a constant in the list, found an "
                                "expression", at);
            goto fail;
        }
        vdb_buf_put(&items, &v->c, sizeof v->c);
        if (items.oom) {
            st = oom();
            goto fail;
        }
        x->nlist++;
    }
    if ((st = next(p)) != VDB_OK)
        goto fail;
    if (x->nlist) {
        x->list = vdb_expr_alloc(p->e, items.len);
        if (!x->list) {
            st = oom();
            goto fail;
        }
        memcpy(x->list, items.p, items.len);
    }
    vdb_buf_free(&items);
    p->depth--;
    *out = x;
    return VDB_OK;
fail:
    vdb_buf_free(&items);
    return st;
}

/* A field name (with any ["key"] / [0] steps after it). */
static vdb_status parse_ref(xp *p, vdb_xnode **out)
{
    const char *name = p->s + p->tok.pos;
    size_t nlen = p->tok.len;
    const vdb_expr_schema *sc = p->schema;
    const vdb_expr_field *f = NULL;
    vdb_buf steps = {0};
    vdb_status st;
    vdb_xnode *x = new_node(p, XN_JSON, XY_JSON, p->tok.pos);
    if (!x)
        return oom();
    for (size_t i = 0; i < sc->nfields && !f; i++)
        if (sc->fields[i].name && strlen(sc->fields[i].name) == nlen &&
            memcmp(sc->fields[i].name, name, nlen) == 0)
            f = &sc->fields[i];
    if (f) {
        x->field = f;
        x->col = f->col;
        x->type = class_of(f->type);
        if (vdb_type_is_any_vector(f->type))
            return vdb_set_errmsg(VDB_EINVAL,
                                  "filter: field '%s' is %s, vector fields cannot be used in "
                                  "filters", f->name, vdb_type_name(f->type));
        if (x->type == XY_NONE)
            return vdb_set_errmsg(VDB_EINVAL, "filter: field '%s' is %s, not usable in filters",
                                  f->name, vdb_type_name(f->type));
        if (x->type == XY_ARRAY) {
            x->elem = class_of(f->element_type);
            if (x->elem != XY_INT && x->elem != XY_FLOAT && x->elem != XY_BOOL &&
                x->elem != XY_STR)
                return vdb_set_errmsg(VDB_EINVAL, "filter: field '%s' is an ARRAY of %s, not "
                                      "usable in filters", f->name,
                                      vdb_type_name(f->element_type));
        } else if (x->type != XY_JSON) {
            x->kind = XN_FIELD;
        }
        if ((st = add_use(p, f->col, f->type)) != VDB_OK)
            return st;
    } else if (sc->dynamic_col >= 0) {
        x->col = (size_t)sc->dynamic_col;
        if ((st = add_use(p, x->col, VDB_TYPE_JSON)) != VDB_OK)
            return st;
        if (nlen != 5 || memcmp(name, "$meta", 5) != 0) {
            char *key = vdb_expr_alloc(p->e, nlen + 1);
            if (!key)
                return oom();
            memcpy(key, name, nlen);
            vdb_xstep s = {key, 0};
            vdb_buf_put(&steps, &s, sizeof s);
        }
    } else {
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: unknown field '%.*s'", p->tok.pos,
                              (int)VDB_MIN(nlen, (size_t)64), name);
    }
    if ((st = next(p)) != VDB_OK)
        goto fail;
    while (p->tok.kind == XT_LBRACK) {
        size_t at = p->tok.pos;
        if (x->kind == XN_FIELD || (x->type == XY_ARRAY && steps.len) ||
            (x->elem != XY_NONE && steps.len)) {
            char sa[160];
            describe_subject(x, sa, sizeof sa);
            st = vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: %s, cannot be indexed with []",
                                at, sa);
            goto fail;
        }
        if ((st = next(p)) != VDB_OK)
            goto fail;
        vdb_xstep s = {NULL, 0};
        if (p->tok.kind == XT_STR && x->elem == XY_NONE) {
            size_t len;
            if ((st = take_string(p, &s.key, &len)) != VDB_OK)
                goto fail;
        } else if (p->tok.kind == XT_INT && p->tok.u <= (uint64_t)INT64_MAX) {
            s.index = (int64_t)p->tok.u;
            if ((st = next(p)) != VDB_OK)
                goto fail;
        } else {
            st = expected(p, x->elem != XY_NONE ? "an array index" : "a key string or an index");
            goto fail;
        }
        if (p->tok.kind != XT_RBRACK) {
            st = expected(p, "']'");
            goto fail;
        }
        if ((st = next(p)) != VDB_OK)
            goto fail;
        vdb_buf_put(&steps, &s, sizeof s);
        if (x->elem != XY_NONE)
            x->type = x->elem; /* one element of an ARRAY field has the element type */
    }
    if (steps.oom) {
        st = oom();
        goto fail;
    }
    if (steps.len) {
        vdb_xstep *copy = vdb_expr_alloc(p->e, steps.len);
        if (!copy) {
            st = oom();
            goto fail;
        }
        memcpy(copy, steps.p, steps.len);
        x->steps = copy;
        x->nsteps = steps.len / sizeof(vdb_xstep);
    }
    vdb_buf_free(&steps);
    *out = x;
    return VDB_OK;
fail:
    vdb_buf_free(&steps);
    return st;
}

static const struct {
    const char *name;
    vdb_xkind kind;
    int op;
} functions[] = {
    {"json_contains", XN_CONTAINS, XF_ONE},  {"json_contains_all", XN_CONTAINS, XF_ALL},
    {"json_contains_any", XN_CONTAINS, XF_ANY}, {"array_contains", XN_CONTAINS, XF_ONE},
    {"array_contains_all", XN_CONTAINS, XF_ALL}, {"array_contains_any", XN_CONTAINS, XF_ANY},
    {"array_length", XN_ALEN, 0},
};

/* json_contains*(path, v), array_contains*(field, v), array_length(field). */
static vdb_status parse_call(xp *p, vdb_xnode **out)
{
    size_t pos = p->tok.pos, nlen = p->tok.len;
    const char *name = p->s + pos;
    int fi = -1;
    vdb_xnode *args[2] = {NULL, NULL};
    vdb_status st;
    for (size_t i = 0; i < VDB_ARRAY_LEN(functions) && fi < 0; i++)
        if (strlen(functions[i].name) == nlen && strncasecmp(functions[i].name, name, nlen) == 0)
            fi = (int)i;
    if (fi < 0)
        return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: unknown function '%.*s'", pos,
                              (int)VDB_MIN(nlen, (size_t)64), name);
    size_t want = functions[fi].kind == XN_ALEN ? 1 : 2;
    /* the name and '(' */
    if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK || (st = next(p)) != VDB_OK)
        return st;
    for (size_t i = 0; i < want; i++) {
        if (i && p->tok.kind != XT_COMMA)
            return expected(p, "',' and a second argument");
        if (i && (st = next(p)) != VDB_OK)
            return st;
        if ((st = parse_add(p, &args[i])) != VDB_OK)
            return st;
    }
    if (p->tok.kind != XT_RPAREN)
        return expected(p, "')' after the arguments");
    if ((st = next(p)) != VDB_OK)
        return st;
    p->depth--;
    vdb_xnode *a = args[0], *v = args[1];
    if (a->kind != XN_JSON || (a->type != XY_JSON && a->type != XY_ARRAY)) {
        char sa[160];
        describe_subject(a, sa, sizeof sa);
        return vdb_set_errmsg(VDB_EINVAL, "filter: %.*s needs an ARRAY field or a JSON path, "
                              "but %s", (int)nlen, name, is_ref(a) ? sa : "got an expression");
    }
    vdb_xnode *x = new_node(p, functions[fi].kind,
                            functions[fi].kind == XN_ALEN ? XY_INT : XY_COND, pos);
    if (!x)
        return oom();
    x->op = functions[fi].op;
    x->a = a;
    if (x->kind == XN_CONTAINS) {
        bool one = x->op == XF_ONE;
        if (one ? v->kind != XN_CONST : v->kind != XN_LIST)
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: %.*s needs %s as its second "
                                  "argument", v->pos, (int)nlen, name,
                                  one ? "a constant" : "a list");
        if (one) {
            x->list = &v->c;
            x->nlist = 1;
        } else {
            x->list = v->list;
            x->nlist = v->nlist;
        }
        for (size_t i = 0; i < x->nlist && a->elem != XY_NONE; i++)
            if (!comparable(a->elem, x->list[i].type))
                return vdb_set_errmsg(VDB_EINVAL, "filter: field '%s' is an ARRAY of %s, cannot "
                                      "contain %s", a->field->name,
                                      vdb_type_name(a->field->element_type),
                                      x->list[i].type == XY_STR ? "a string"
                                      : x->list[i].type == XY_BOOL ? "a bool" : "a number");
    }
    *out = x;
    return grow(p, x);
}

static vdb_status parse_primary(xp *p, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *x;
    vdb_xtok t = p->tok;
    switch (t.kind) {
    case XT_INT:
        if (t.u > (uint64_t)INT64_MAX)
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: integer %.*s is out of range",
                                  t.pos, (int)VDB_MIN(t.len, (size_t)40), p->s + t.pos);
        /* fall through */
    case XT_FLOAT:
    case XT_TRUE:
    case XT_FALSE:
        x = new_node(p, XN_CONST, XY_INT, t.pos);
        if (!x)
            return oom();
        if (t.kind == XT_INT) {
            x->c.i = (int64_t)t.u;
        } else if (t.kind == XT_FLOAT) {
            x->type = XY_FLOAT;
            x->c.d = t.d;
        } else {
            x->type = XY_BOOL;
            x->c.i = t.kind == XT_TRUE;
        }
        x->c.type = x->type;
        *out = x;
        return next(p);
    case XT_STR:
        x = new_node(p, XN_CONST, XY_STR, t.pos);
        if (!x)
            return oom();
        x->c.type = XY_STR;
        *out = x;
        return take_string(p, &x->c.s, &x->c.len);
    case XT_LBRACK:
        return parse_list(p, out);
    case XT_LPAREN:
        if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK ||
            (st = parse_or(p, out)) != VDB_OK)
            return st;
        if (p->tok.kind != XT_RPAREN)
            return expected(p, "')'");
        p->depth--;
        return next(p);
    case XT_EXISTS: {
        if ((st = next(p)) != VDB_OK)
            return st;
        if (p->tok.kind != XT_IDENT)
            return expected(p, "a JSON path after 'exists'");
        vdb_xnode *path;
        if ((st = parse_ref(p, &path)) != VDB_OK)
            return st;
        if (path->kind != XN_JSON || path->type == XY_ARRAY)
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected a JSON path after "
                                  "'exists', found a field", t.pos);
        x = new_node(p, XN_EXISTS, XY_COND, t.pos);
        if (!x)
            return oom();
        x->a = path;
        *out = x;
        return grow(p, x);
    }
    case XT_IDENT: {
        vdb_xtok la;
        if ((st = vdb_expr_lex(p->s, p->n, t.pos + t.len, &la)) != VDB_OK)
            return st;
        return la.kind == XT_LPAREN ? parse_call(p, out) : parse_ref(p, out);
    }
    default:
        return expected(p, "a value or a field");
    }
}

static vdb_status parse_unary(xp *p, vdb_xnode **out)
{
    vdb_status st;
    if (p->tok.kind != XT_MINUS && p->tok.kind != XT_PLUS)
        return parse_primary(p, out);
    size_t pos = p->tok.pos;
    bool neg = p->tok.kind == XT_MINUS;
    if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK)
        return st;
    /* -9223372036854775808 is an int64 although its magnitude alone is not */
    if (neg && p->tok.kind == XT_INT && p->tok.u == (uint64_t)INT64_MAX + 1) {
        vdb_xnode *x = new_node(p, XN_CONST, XY_INT, pos);
        if (!x)
            return oom();
        x->c.type = XY_INT;
        x->c.i = INT64_MIN;
        *out = x;
        p->depth--;
        return next(p);
    }
    vdb_xnode *v;
    if ((st = parse_unary(p, &v)) != VDB_OK)
        return st;
    p->depth--;
    if (!neg) {
        if ((st = need_value(v)) != VDB_OK)
            return st;
        if (!is_num(v->type) && v->type != XY_JSON)
            return build_arith(p, XO_ADD, v, v, pos, out); /* for its type error */
        *out = v;
        return VDB_OK;
    }
    vdb_xnode *zero = new_node(p, XN_CONST, XY_INT, pos);
    if (!zero)
        return oom();
    zero->c.type = XY_INT;
    return build_arith(p, XO_SUB, zero, v, pos, out);
}

static vdb_status parse_pow(xp *p, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *a, *b;
    if ((st = parse_unary(p, &a)) != VDB_OK)
        return st;
    if (p->tok.kind != XT_POW) {
        *out = a;
        return VDB_OK;
    }
    size_t pos = p->tok.pos;
    if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK || (st = parse_pow(p, &b)) != VDB_OK)
        return st;
    p->depth--;
    return build_arith(p, XO_POW, a, b, pos, out);
}

static vdb_status parse_mul(xp *p, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *a, *b;
    if ((st = parse_pow(p, &a)) != VDB_OK)
        return st;
    while (p->tok.kind == XT_STAR || p->tok.kind == XT_SLASH || p->tok.kind == XT_PERCENT) {
        int op = p->tok.kind == XT_STAR ? XO_MUL : p->tok.kind == XT_SLASH ? XO_DIV : XO_MOD;
        size_t pos = p->tok.pos;
        if ((st = next(p)) != VDB_OK || (st = parse_pow(p, &b)) != VDB_OK ||
            (st = build_arith(p, op, a, b, pos, &a)) != VDB_OK)
            return st;
    }
    *out = a;
    return VDB_OK;
}

static vdb_status parse_add(xp *p, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *a, *b;
    if ((st = parse_mul(p, &a)) != VDB_OK)
        return st;
    while (p->tok.kind == XT_PLUS || p->tok.kind == XT_MINUS) {
        int op = p->tok.kind == XT_PLUS ? XO_ADD : XO_SUB;
        size_t pos = p->tok.pos;
        if ((st = next(p)) != VDB_OK || (st = parse_mul(p, &b)) != VDB_OK ||
            (st = build_arith(p, op, a, b, pos, &a)) != VDB_OK)
            return st;
    }
    *out = a;
    return VDB_OK;
}

/* ---- conditions ---- */

static int flip(int op)
{
    switch (op) {
    case XO_LT: return XO_GT;
    case XO_LE: return XO_GE;
    case XO_GT: return XO_LT;
    case XO_GE: return XO_LE;
    default: return op;
    }
}

static vdb_status build_cmp(xp *p, vdb_xnode *a, int op, vdb_xnode *b, size_t pos,
                            vdb_xnode **out)
{
    vdb_status st;
    if ((st = need_value(a)) != VDB_OK || (st = need_value(b)) != VDB_OK)
        return st;
    if (!comparable(a->type, b->type))
        return type_error(a, b, "compare with");
    vdb_xnode *x = new_node(p, XN_CMP, XY_COND, a->pos);
    if (!x)
        return oom();
    /* the evaluator's fast paths want `field op constant` */
    if (a->kind == XN_CONST && b->kind != XN_CONST) {
        vdb_xnode *t = a;
        a = b;
        b = t;
        op = flip(op);
    }
    x->op = op;
    x->a = a;
    x->b = b;
    *out = x;
    return grow(p, x);
}

static int cmp_const(const void *pa, const void *pb)
{
    const vdb_xconst *a = pa, *b = pb;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->type == XY_STR) {
        int c = memcmp(a->s, b->s, VDB_MIN(a->len, b->len));
        return c ? c : a->len < b->len ? -1 : a->len > b->len;
    }
    if (a->type == XY_FLOAT)
        return a->d < b->d ? -1 : a->d > b->d;
    return a->i < b->i ? -1 : a->i > b->i;
}

static vdb_status build_in(xp *p, vdb_xnode *a, vdb_xnode *list, size_t pos, vdb_xnode **out)
{
    vdb_status st;
    if ((st = need_value(a)) != VDB_OK)
        return st;
    vdb_xnode *x = new_node(p, XN_IN, XY_COND, pos);
    if (!x)
        return oom();
    for (size_t i = 0; i < list->nlist; i++) {
        vdb_xnode tmp = {.kind = XN_CONST, .type = list->list[i].type, .pos = list->pos};
        if (!comparable(a->type, tmp.type))
            return type_error(a, &tmp, "compare with");
    }
    x->a = a;
    x->list = list->list;
    x->nlist = list->nlist;
    if (a->kind == XN_FIELD && x->nlist) {
        /* a field's list in the field's terms, sorted, so rows can binary-search it */
        size_t k = 0;
        for (size_t i = 0; i < x->nlist; i++) {
            vdb_xconst c = x->list[i];
            if (a->type == XY_INT && c.type == XY_FLOAT) {
                if (!(c.d >= -9223372036854775808.0 && c.d < 9223372036854775808.0) ||
                    (double)(int64_t)c.d != c.d)
                    continue; /* never equal to an integer */
                c.type = XY_INT;
                c.i = (int64_t)c.d;
            } else if (a->type == XY_FLOAT && c.type == XY_INT) {
                c.type = XY_FLOAT;
                c.d = (double)c.i;
            }
            x->list[k++] = c;
        }
        x->nlist = k;
        qsort(x->list, x->nlist, sizeof *x->list, cmp_const);
    }
    *out = x;
    return grow(p, x);
}

/* Like patterns: % any run, _ one character, \% and \_ literal. */
static vdb_status build_like(xp *p, vdb_xnode *a, size_t pos, vdb_xnode **out)
{
    vdb_status st;
    if ((st = need_value(a)) != VDB_OK)
        return st;
    if (a->type != XY_STR && a->type != XY_JSON) {
        vdb_xnode tmp = {.kind = XN_CONST, .type = XY_STR, .pos = p->tok.pos};
        return type_error(a, &tmp, "match 'like' with");
    }
    if (p->tok.kind != XT_STR)
        return expected(p, "a pattern string after 'like'");
    const char *s;
    size_t len;
    if ((st = take_string(p, &s, &len)) != VDB_OK)
        return st;
    vdb_xnode *x = new_node(p, XN_LIKE, XY_COND, pos);
    uint16_t *pat = vdb_expr_alloc(p->e, (len + 1) * sizeof *pat);
    if (!x || !pat)
        return oom();
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < len && (s[i + 1] == '%' || s[i + 1] == '_'))
            pat[n++] = (unsigned char)s[++i];
        else if (c == '%')
            pat[n++] = VDB_LIKE_ANY;
        else if (c == '_')
            pat[n++] = VDB_LIKE_ONE;
        else
            pat[n++] = c;
    }
    x->a = a;
    x->pat = pat;
    x->npat = n;
    *out = x;
    return grow(p, x);
}

static bool is_cmp_tok(vdb_xtok_kind k) { return k >= XT_EQ && k <= XT_GE; }
static int cmp_op(vdb_xtok_kind k) { return XO_EQ + (int)(k - XT_EQ); }

static vdb_status negate(xp *p, vdb_xnode *a, size_t pos, vdb_xnode **out)
{
    vdb_xnode *x = new_node(p, XN_NOT, XY_COND, pos);
    if (!x)
        return oom();
    x->a = a;
    *out = x;
    return grow(p, x);
}

static vdb_status parse_cmp(xp *p, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *a, *b, *c, *list;
    if ((st = parse_add(p, &a)) != VDB_OK)
        return st;
    size_t pos = p->tok.pos;
    vdb_xtok_kind k = p->tok.kind;
    if (is_cmp_tok(k)) {
        int op1 = cmp_op(k);
        if ((st = next(p)) != VDB_OK || (st = parse_add(p, &b)) != VDB_OK ||
            (st = build_cmp(p, a, op1, b, pos, out)) != VDB_OK)
            return st;
        if (!is_cmp_tok(p->tok.kind))
            return VDB_OK;
        /* a chained range: both bounds in one direction, as in 1 < x <= 5 */
        int op2 = cmp_op(p->tok.kind);
        bool up1 = op1 == XO_LT || op1 == XO_LE, up2 = op2 == XO_LT || op2 == XO_LE;
        bool dn1 = op1 == XO_GT || op1 == XO_GE, dn2 = op2 == XO_GT || op2 == XO_GE;
        if (!((up1 && up2) || (dn1 && dn2)))
            return expected(p, up1 ? "'<' or '<=' to continue the range"
                               : dn1 ? "'>' or '>=' to continue the range"
                                     : "'and' or 'or' (only ranges chain)");
        size_t pos2 = p->tok.pos;
        vdb_xnode *first = *out, *second, *x;
        if ((st = next(p)) != VDB_OK || (st = parse_add(p, &c)) != VDB_OK ||
            (st = build_cmp(p, b, op2, c, pos2, &second)) != VDB_OK)
            return st;
        if (is_cmp_tok(p->tok.kind))
            return expected(p, "'and' or 'or' (a range has two bounds)");
        vdb_xnode **kids = vdb_expr_alloc(p->e, 2 * sizeof *kids);
        if (!kids || !(x = new_node(p, XN_AND, XY_COND, a->pos)))
            return oom();
        kids[0] = first;
        kids[1] = second;
        x->kids = kids;
        x->nkids = 2;
        *out = x;
        return grow(p, x);
    }
    bool neg = false;
    if (k == XT_NOT) {
        vdb_xtok la;
        if ((st = vdb_expr_lex(p->s, p->n, p->tok.pos + p->tok.len, &la)) != VDB_OK)
            return st;
        if (la.kind != XT_IN && la.kind != XT_LIKE) {
            *out = a;
            return VDB_OK;
        }
        neg = true;
        if ((st = next(p)) != VDB_OK)
            return st;
        k = p->tok.kind;
    }
    if (k == XT_IN) {
        if ((st = next(p)) != VDB_OK || (st = parse_list(p, &list)) != VDB_OK ||
            (st = build_in(p, a, list, pos, out)) != VDB_OK)
            return st;
    } else if (k == XT_LIKE) {
        if ((st = next(p)) != VDB_OK || (st = build_like(p, a, pos, out)) != VDB_OK)
            return st;
    } else if (k == XT_IS) {
        if ((st = next(p)) != VDB_OK)
            return st;
        bool isnot = p->tok.kind == XT_NOT;
        if (isnot && (st = next(p)) != VDB_OK)
            return st;
        if (p->tok.kind != XT_NULL)
            return expected(p, isnot ? "'null' after 'is not'" : "'null' or 'not null' after 'is'");
        if ((st = next(p)) != VDB_OK)
            return st;
        if (!is_ref(a))
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected a field before 'is "
                                  "null'", a->pos);
        vdb_xnode *x = new_node(p, XN_ISNULL, XY_COND, pos);
        if (!x)
            return oom();
        x->a = a;
        x->negate = isnot;
        *out = x;
        return grow(p, x);
    } else {
        *out = a;
        return VDB_OK;
    }
    return neg ? negate(p, *out, pos, out) : VDB_OK;
}

static vdb_status parse_not(xp *p, vdb_xnode **out)
{
    vdb_status st;
    if (p->tok.kind != XT_NOT)
        return parse_cmp(p, out);
    size_t pos = p->tok.pos;
    vdb_xnode *a;
    if ((st = enter(p)) != VDB_OK || (st = next(p)) != VDB_OK || (st = parse_not(p, &a)) != VDB_OK ||
        (st = to_cond(p, &a)) != VDB_OK)
        return st;
    p->depth--;
    return negate(p, a, pos, out);
}

/* and / or chains become one node with many children, so long chains stay shallow. */
static vdb_status parse_chain(xp *p, bool is_or, vdb_xnode **out)
{
    vdb_status st;
    vdb_xnode *a;
    vdb_buf kids = {0};
    vdb_xtok_kind k = is_or ? XT_OR : XT_AND;
    if ((st = is_or ? parse_chain(p, false, &a) : parse_not(p, &a)) != VDB_OK)
        return st;
    if (p->tok.kind != k) {
        *out = a;
        return VDB_OK;
    }
    size_t pos = a->pos;
    for (;;) {
        if ((st = to_cond(p, &a)) != VDB_OK)
            goto fail;
        vdb_buf_put(&kids, &a, sizeof a);
        if (p->tok.kind != k)
            break;
        if ((st = next(p)) != VDB_OK ||
            (st = is_or ? parse_chain(p, false, &a) : parse_not(p, &a)) != VDB_OK)
            goto fail;
    }
    vdb_xnode *x = new_node(p, is_or ? XN_OR : XN_AND, XY_COND, pos);
    if (kids.oom || !x || !(x->kids = vdb_expr_alloc(p->e, kids.len))) {
        st = oom();
        goto fail;
    }
    memcpy(x->kids, kids.p, kids.len);
    x->nkids = kids.len / sizeof a;
    vdb_buf_free(&kids);
    *out = x;
    return grow(p, x);
fail:
    vdb_buf_free(&kids);
    return st;
}

static vdb_status parse_or(xp *p, vdb_xnode **out) { return parse_chain(p, true, out); }

vdb_status vdb_expr_parse(const char *text, const vdb_expr_schema *schema, vdb_expr **out)
{
    vdb_status st;
    *out = NULL;
    if (!text || !schema)
        return vdb_set_errmsg(VDB_EINVAL, "filter: text or schema is NULL");
    vdb_expr *e = vdb_calloc(1, sizeof *e);
    if (!e)
        return oom();
    xp p = {text, strlen(text), schema, e, {0}, 0};
    if ((st = vdb_expr_lex(p.s, p.n, 0, &p.tok)) != VDB_OK)
        goto fail;
    if (p.tok.kind == XT_END) {
        st = expected(&p, "an expression");
        goto fail;
    }
    if ((st = parse_or(&p, &e->root)) != VDB_OK || (st = to_cond(&p, &e->root)) != VDB_OK)
        goto fail;
    if (p.tok.kind != XT_END) {
        st = expected(&p, "'and', 'or' or the end");
        goto fail;
    }
    *out = e;
    return VDB_OK;
fail:
    vdb_expr_free(e);
    return st;
}

/* Private to the filter expression files: tokens, the AST (allocated from one arena per
 * expression) and the helpers the lexer, parser and evaluator share. */
#ifndef VDB_EXPR_INT_H
#define VDB_EXPR_INT_H

#include "expr.h"

/* Both parenthesis nesting and tree height; also bounds the evaluator's recursion. */
#define VDB_EXPR_MAX_DEPTH 200

/* ---- tokens ---- */
typedef enum vdb_xtok_kind {
    XT_END, XT_IDENT, XT_INT, XT_FLOAT, XT_STR,
    XT_LPAREN, XT_RPAREN, XT_LBRACK, XT_RBRACK, XT_COMMA,
    XT_EQ, XT_NE, XT_LT, XT_LE, XT_GT, XT_GE,
    XT_PLUS, XT_MINUS, XT_STAR, XT_SLASH, XT_PERCENT, XT_POW,
    XT_AND, XT_OR, XT_NOT, XT_IN, XT_LIKE, XT_IS, XT_NULL, XT_EXISTS, XT_TRUE, XT_FALSE,
} vdb_xtok_kind;

typedef struct vdb_xtok {
    vdb_xtok_kind kind;
    size_t pos, len; /* the token's bytes in the text */
    uint64_t u;      /* XT_INT: magnitude (a sign is a separate token) */
    double d;        /* XT_FLOAT */
} vdb_xtok;

/* The token at or after pos (whitespace skipped). VDB_EINVAL "filter: at N: expected ...". */
vdb_status vdb_expr_lex(const char *s, size_t n, size_t pos, vdb_xtok *t);
/* Unescapes the body of a string (between its quotes: an expression literal or a JSON
 * string) into out, which has room for n bytes (escapes never grow). \% and \_ stay escaped
 * for like patterns. Returns the output length. Never fails: bad escapes are copied. */
size_t vdb_expr_unescape(const char *raw, size_t n, char *out);
/* A number in the C locale; s[0..n) need not be NUL-terminated. false if not all consumed. */
bool vdb_expr_strtod(const char *s, size_t n, double *out);

/* ---- the tree ---- */
typedef enum vdb_xkind {
    /* values */
    XN_CONST,  /* c */
    XN_FIELD,  /* a scalar column (not JSON/ARRAY) */
    XN_JSON,   /* a path into a JSON or ARRAY column (maybe empty: the whole value) */
    XN_ARITH,  /* op a b */
    XN_ALEN,   /* array_length(a) (a: XN_JSON) */
    XN_LIST,   /* list, nlist */
    /* conditions */
    XN_BOOL,   /* c.i: constant true/false */
    XN_AND, XN_OR, /* kids, nkids */
    XN_NOT,    /* a */
    XN_CMP,    /* a op b */
    XN_IN,     /* a in list */
    XN_LIKE,   /* a like pattern */
    XN_ISNULL, /* a is null (negate: is not null); never unknown */
    XN_EXISTS, /* a (XN_JSON) exists */
    XN_CONTAINS, /* op: XF_ONE (c) / XF_ALL / XF_ANY (list) of array a */
} vdb_xkind;

/* Static types for type checking. JSON values are typed per row at run time. */
typedef enum vdb_xtype {
    XY_NONE, XY_INT, XY_FLOAT, XY_BOOL, XY_STR, XY_JSON, XY_ARRAY, XY_LIST, XY_COND,
} vdb_xtype;

typedef enum vdb_xop {
    XO_EQ, XO_NE, XO_LT, XO_LE, XO_GT, XO_GE,
    XO_ADD, XO_SUB, XO_MUL, XO_DIV, XO_MOD, XO_POW,
} vdb_xop;

enum { XF_ONE, XF_ALL, XF_ANY };

/* A constant: XY_INT (i), XY_FLOAT (d), XY_BOOL (i), XY_STR (s, len; unescaped). */
typedef struct vdb_xconst {
    vdb_xtype type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} vdb_xconst;

/* One step of a JSON path: an object key (NUL-terminated) or an array index. */
typedef struct vdb_xstep {
    const char *key; /* NULL: index */
    int64_t index;
} vdb_xstep;

/* Like patterns as one code per pattern byte: 0..255 a literal byte, LIKE_ONE, LIKE_ANY. */
#define VDB_LIKE_ONE 256
#define VDB_LIKE_ANY 257

typedef struct vdb_xnode vdb_xnode;
struct vdb_xnode {
    vdb_xkind kind;
    vdb_xtype type;
    int op;
    int height;
    size_t pos;                   /* where it starts in the text, for messages */
    const vdb_expr_field *field;  /* XN_FIELD, XN_JSON (NULL: the dynamic column) */
    size_t col;
    const vdb_xstep *steps;       /* XN_JSON */
    size_t nsteps;
    vdb_xtype elem;               /* XN_JSON into an ARRAY field: its element type; else NONE */
    vdb_xconst c;
    vdb_xconst *list;             /* XN_LIST, XN_IN, XN_CONTAINS; sorted for XN_IN on fields */
    size_t nlist;
    vdb_xnode *a, *b;
    vdb_xnode **kids;
    size_t nkids;
    const uint16_t *pat;          /* XN_LIKE */
    size_t npat;
    bool negate;                  /* XN_ISNULL: is not null */
};

/* A column the expression reads, checked against the input before evaluation. */
typedef struct vdb_xuse {
    size_t col;
    vdb_type type;
} vdb_xuse;

struct vdb_expr {
    struct vdb_xblock *arena;
    vdb_xnode *root;
    vdb_xuse *uses;
    size_t nuses;
};

/* Arithmetic on two numbers (XY_INT or XY_FLOAT): ints stay ints unless they overflow; /
 * and % of ints truncate as in C; ** is float. false when there is no finite result (a
 * division by zero, an infinity): the row's value is then unknown. */
bool vdb_expr_arith(int op, const vdb_xconst *a, const vdb_xconst *b, vdb_xconst *out);

/* JSON text (jtext.c): blanks skipped from i; array iteration (begin positions *pos inside
 * '[', false when s is not an array; next yields each element's text); the value at
 * steps[0..nsteps) of s[0..n) (false: no such value); and a value's text as a typed value
 * (JSON null XY_NONE, arrays and objects XY_ARRAY; an escaped string is unescaped into
 * scratch, *oom set when that fails). */
size_t vdb_expr_skip_ws(const char *s, size_t n, size_t i);
bool vdb_expr_arr_begin(const char *s, size_t n, size_t *pos);
bool vdb_expr_arr_next(const char *s, size_t n, size_t *pos, const char **v, size_t *vlen);
/* A path as a key comparable with memcmp: per step 'k', the key's length (8 bytes) and bytes,
 * or 'i' and the index (8 bytes). false without memory. */
bool vdb_expr_path_key(const vdb_xstep *steps, size_t nsteps, vdb_buf *b);
bool vdb_expr_json_follow(const char *s, size_t n, const vdb_xstep *steps, size_t nsteps,
                          const char **v, size_t *vlen);
void vdb_expr_json_value(const char *s, size_t n, vdb_buf *scratch, vdb_xconst *out, bool *oom);

/* Arena allocation: zeroed, freed with the expression. NULL on OOM. */
void *vdb_expr_alloc(vdb_expr *e, size_t n);

#endif

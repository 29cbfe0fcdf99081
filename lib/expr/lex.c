/* The filter lexer: one token at a time from a byte position (stateless, so the parser can
 * look ahead by lexing again), plus string unescaping and locale-free number parsing. */
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "expr_int.h"

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

bool vdb_expr_strtod(const char *s, size_t n, double *out)
{
    char small[64];
    char *buf = small;
    /* strtod needs a terminator; numbers are short, so a heap copy is the rare case */
    if (n >= sizeof small) {
        buf = vdb_malloc(n + 1);
        if (!buf)
            return false;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    char *end;
    /* a user's LC_NUMERIC (a decimal comma) must not change what "1.5" means */
    *out = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    bool ok = end == buf + n && n > 0;
    if (buf != small)
        vdb_free(buf);
    return ok;
}

/* "'=='", "end of input", for "found ..." in messages. */
static void describe_at(const char *s, size_t n, size_t pos, char *buf, size_t size)
{
    if (pos >= n) {
        snprintf(buf, size, "end of input");
        return;
    }
    unsigned char c = (unsigned char)s[pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
}

static vdb_status lex_error(const char *s, size_t n, size_t at, const char *expected)
{
    char f[32];
    describe_at(s, n, at, f, sizeof f);
    return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: expected %s, found %s", at, expected, f);
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident(char c) { return is_ident_start(c) || is_digit(c); }
static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static const struct {
    const char *word;
    vdb_xtok_kind kind;
} keywords[] = {
    {"and", XT_AND}, {"or", XT_OR}, {"not", XT_NOT}, {"in", XT_IN}, {"like", XT_LIKE},
    {"is", XT_IS}, {"null", XT_NULL}, {"exists", XT_EXISTS}, {"true", XT_TRUE},
    {"false", XT_FALSE},
};

static vdb_xtok_kind keyword(const char *s, size_t len)
{
    for (size_t k = 0; k < VDB_ARRAY_LEN(keywords); k++)
        if (strlen(keywords[k].word) == len && strncasecmp(keywords[k].word, s, len) == 0)
            return keywords[k].kind;
    return XT_IDENT;
}

static vdb_status lex_string(const char *s, size_t n, size_t pos, vdb_xtok *t)
{
    char q = s[pos];
    size_t i = pos + 1;
    while (i < n && s[i] != q) {
        if (s[i] == '\\') {
            if (i + 1 >= n)
                break;
            char e = s[i + 1];
            if (e == 'u') {
                for (size_t k = 0; k < 4; k++)
                    if (i + 2 + k >= n || hex_digit(s[i + 2 + k]) < 0)
                        return lex_error(s, n, i + 2 + k, "4 hex digits after '\\u'");
                i += 6;
                continue;
            }
            if (!strchr("\"'\\/bfnrt%_", e))
                return lex_error(s, n, i + 1, "an escape (\\\" \\' \\\\ \\n \\t \\uXXXX ...)");
            i += 2;
            continue;
        }
        i++;
    }
    if (i >= n)
        return lex_error(s, n, n, q == '"' ? "a closing '\"'" : "a closing \"'\"");
    t->kind = XT_STR;
    t->len = i + 1 - pos;
    return VDB_OK;
}

static vdb_status lex_number(const char *s, size_t n, size_t pos, vdb_xtok *t)
{
    size_t i = pos;
    if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        uint64_t v = 0;
        size_t start = i;
        for (; i < n && hex_digit(s[i]) >= 0; i++) {
            if (v >> 60)
                return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: integer out of range", pos);
            v = v * 16 + (uint64_t)hex_digit(s[i]);
        }
        if (i == start)
            return lex_error(s, n, i, "hex digits after '0x'");
        t->kind = XT_INT;
        t->u = v;
        t->len = i - pos;
        return VDB_OK;
    }
    bool is_float = false;
    while (i < n && is_digit(s[i]))
        i++;
    if (i < n && s[i] == '.') {
        is_float = true;
        i++;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == pos + 1)
            return lex_error(s, n, i, "a digit after '.'");
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_float = true;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return lex_error(s, n, i, "exponent digits");
        while (i < n && is_digit(s[i]))
            i++;
    }
    t->len = i - pos;
    if (is_float) {
        t->kind = XT_FLOAT;
        if (!vdb_expr_strtod(s + pos, t->len, &t->d))
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: bad number", pos);
        return VDB_OK;
    }
    uint64_t v = 0;
    for (size_t k = pos; k < i; k++) {
        uint64_t d = (uint64_t)(s[k] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return vdb_set_errmsg(VDB_EINVAL, "filter: at %zu: integer %.*s is out of range",
                                  pos, (int)VDB_MIN(t->len, 40u), s + pos);
        v = v * 10 + d;
    }
    t->kind = XT_INT;
    t->u = v;
    return VDB_OK;
}

vdb_status vdb_expr_lex(const char *s, size_t n, size_t pos, vdb_xtok *t)
{
    while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    memset(t, 0, sizeof *t);
    t->pos = pos;
    if (pos >= n) {
        t->kind = XT_END;
        return VDB_OK;
    }
    char c = s[pos];
    char c2 = pos + 1 < n ? s[pos + 1] : 0;
    t->len = 1;
    if (is_ident_start(c)) {
        size_t i = pos;
        while (i < n && is_ident(s[i]))
            i++;
        t->len = i - pos;
        t->kind = keyword(s + pos, t->len);
        return VDB_OK;
    }
    if (is_digit(c) || (c == '.' && is_digit(c2)))
        return lex_number(s, n, pos, t);
    if (c == '"' || c == '\'')
        return lex_string(s, n, pos, t);
    switch (c) {
    case '(': t->kind = XT_LPAREN; return VDB_OK;
    case ')': t->kind = XT_RPAREN; return VDB_OK;
    case '[': t->kind = XT_LBRACK; return VDB_OK;
    case ']': t->kind = XT_RBRACK; return VDB_OK;
    case ',': t->kind = XT_COMMA; return VDB_OK;
    case '+': t->kind = XT_PLUS; return VDB_OK;
    case '-': t->kind = XT_MINUS; return VDB_OK;
    case '/': t->kind = XT_SLASH; return VDB_OK;
    case '%': t->kind = XT_PERCENT; return VDB_OK;
    case '*':
        t->kind = c2 == '*' ? XT_POW : XT_STAR;
        t->len = c2 == '*' ? 2 : 1;
        return VDB_OK;
    case '<':
        t->kind = c2 == '=' ? XT_LE : XT_LT;
        t->len = c2 == '=' ? 2 : 1;
        return VDB_OK;
    case '>':
        t->kind = c2 == '=' ? XT_GE : XT_GT;
        t->len = c2 == '=' ? 2 : 1;
        return VDB_OK;
    case '!':
        t->kind = c2 == '=' ? XT_NE : XT_NOT;
        t->len = c2 == '=' ? 2 : 1;
        return VDB_OK;
    case '=':
        if (c2 != '=')
            return lex_error(s, n, pos, "'==' (one '=' is not an operator)");
        t->kind = XT_EQ;
        t->len = 2;
        return VDB_OK;
    case '&':
        if (c2 != '&')
            return lex_error(s, n, pos, "'&&'");
        t->kind = XT_AND;
        t->len = 2;
        return VDB_OK;
    case '|':
        if (c2 != '|')
            return lex_error(s, n, pos, "'||'");
        t->kind = XT_OR;
        t->len = 2;
        return VDB_OK;
    default:
        return lex_error(s, n, pos, "a value, field or operator");
    }
}

static size_t utf8_put(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const char *s, size_t avail)
{
    if (avail < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(s[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

size_t vdb_expr_unescape(const char *raw, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (raw[i] != '\\' || i + 1 >= n) {
            out[o++] = raw[i++];
            continue;
        }
        char e = raw[i + 1];
        const char *simple = strchr("\"'\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"'\\/\b\f\n\r\t";
            out[o++] = to[simple - "\"'\\/bfnrt"];
            i += 2;
            continue;
        }
        int cp = e == 'u' ? hex4(raw + i + 2, n - i - 2) : -1;
        if (cp < 0) { /* \% \_ for like patterns, or a bad escape: kept as written */
            out[o++] = raw[i++];
            continue;
        }
        i += 6;
        uint32_t code = (uint32_t)cp;
        if (code >= 0xd800 && code <= 0xdbff) {
            int lo = i + 1 < n && raw[i] == '\\' && raw[i + 1] == 'u'
                         ? hex4(raw + i + 2, n - i - 2) : -1;
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                code = 0x10000 + ((code - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                i += 6;
            } else {
                code = 0xfffd;
            }
        } else if (code >= 0xdc00 && code <= 0xdfff) {
            code = 0xfffd;
        }
        o += utf8_put(code, out + o);
    }
    return o;
}

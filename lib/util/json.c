/* A validating JSON reader that never builds a tree: it checks documents (RFC 8259, UTF-8,
 * bounded nesting), checks typed arrays, parses scalars for default values, finds top-level
 * members, and writes string literals. Errors name the byte where parsing stopped. */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "util/json_escape.h"

#define MAX_DEPTH 64

typedef struct jp {
    const char *s;
    size_t n, pos;
    int depth;
    const char *what;
} jp;

static jp jp_init(const char *s, size_t n, const char *what)
{
    jp p = {s, n, 0, 0, what && *what ? what : "JSON"};
    return p;
}

/* Sets "<what>: invalid JSON at byte N: <message>". */
__attribute__((format(printf, 3, 4))) static vdb_status jerr(const jp *p, size_t at,
                                                               const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vdb_set_errmsg(VDB_EINVAL, "%s: invalid JSON at byte %zu: %s", p->what, at, msg);
}

/* What stands at pos, for messages. */
static const char *found(const jp *p, char *buf, size_t size)
{
    if (p->pos >= p->n)
        return "end of input";
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

static vdb_status expected(const jp *p, const char *what_expected)
{
    char b[16];
    return jerr(p, p->pos, "expected %s, found %s", what_expected, found(p, b, sizeof b));
}

static void skip_ws(jp *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool peek(const jp *p, char c) { return p->pos < p->n && p->s[p->pos] == c; }

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s[0..n) starting with a byte >= 0x80, 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the \uXXXX escape at pos (just past the backslash and 'u'), joining a surrogate
 * pair into one code point. */
static vdb_status read_u_escape(jp *p, uint32_t *cp)
{
    size_t at = p->pos - 2;
    int hi = p->n - p->pos >= 4 ? hex4(p->s + p->pos) : -1;
    if (hi < 0)
        return jerr(p, at, "\\u must be followed by 4 hex digits");
    p->pos += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return jerr(p, at, "unpaired low surrogate \\u%04x", (unsigned)hi);
    if (hi < 0xd800 || hi > 0xdbff) {
        *cp = (uint32_t)hi;
        return VDB_OK;
    }
    int lo = p->n - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u'
                 ? hex4(p->s + p->pos + 2)
                 : -1;
    if (lo < 0xdc00 || lo > 0xdfff)
        return jerr(p, at, "high surrogate \\u%04x is not followed by a low surrogate",
                    (unsigned)hi);
    p->pos += 6;
    *cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    return VDB_OK;
}

/* Reads the string literal at pos. *ulen gets its unescaped length; out, when given, gets
 * the unescaped bytes appended. */
static vdb_status parse_string(jp *p, vdb_buf *out, size_t *ulen)
{
    if (!peek(p, '"'))
        return expected(p, "a string");
    p->pos++;
    size_t len = 0;
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->n) {
            unsigned char c = (unsigned char)p->s[p->pos];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                break;
            p->pos++;
        }
        len += p->pos - run;
        if (out)
            vdb_buf_put(out, p->s + run, p->pos - run);
        if (p->pos >= p->n)
            return jerr(p, p->pos, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return jerr(p, p->pos, "control character 0x%02x in a string (must be escaped)", c);
        if (c >= 0x80) {
            size_t k = utf8_len((const unsigned char *)p->s + p->pos, p->n - p->pos);
            if (!k)
                return jerr(p, p->pos, "invalid UTF-8");
            if (out)
                vdb_buf_put(out, p->s + p->pos, k);
            len += k;
            p->pos += k;
            continue;
        }
        /* a backslash */
        if (p->pos + 1 >= p->n)
            return jerr(p, p->pos, "unterminated string");
        char e = p->s[p->pos + 1];
        p->pos += 2;
        uint8_t u[4];
        size_t k = 1;
        switch (e) {
        case '"': u[0] = '"'; break;
        case '\\': u[0] = '\\'; break;
        case '/': u[0] = '/'; break;
        case 'b': u[0] = '\b'; break;
        case 'f': u[0] = '\f'; break;
        case 'n': u[0] = '\n'; break;
        case 'r': u[0] = '\r'; break;
        case 't': u[0] = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            vdb_status st = read_u_escape(p, &cp);
            if (st != VDB_OK)
                return st;
            k = utf8_put(cp, u);
            break;
        }
        default:
            return jerr(p, p->pos - 2, "invalid escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
        }
        if (out)
            vdb_buf_put(out, u, k);
        len += k;
    }
    if (out && out->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory unescaping a string", p->what);
    if (ulen)
        *ulen = len;
    return VDB_OK;
}

/* ---- numbers and literals ---- */

typedef struct number {
    size_t start, end;
    bool is_int; /* no fraction, no exponent */
} number;

static bool is_digit(const jp *p) { return p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9'; }

static vdb_status parse_number(jp *p, number *num)
{
    num->start = p->pos;
    num->is_int = true;
    if (peek(p, '-'))
        p->pos++;
    if (!is_digit(p))
        return expected(p, "a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (is_digit(p))
            return jerr(p, p->pos, "a number may not have leading zeros");
    } else {
        while (is_digit(p))
            p->pos++;
    }
    if (peek(p, '.')) {
        num->is_int = false;
        p->pos++;
        if (!is_digit(p))
            return expected(p, "a digit after '.'");
        while (is_digit(p))
            p->pos++;
    }
    if (peek(p, 'e') || peek(p, 'E')) {
        num->is_int = false;
        p->pos++;
        if (peek(p, '+') || peek(p, '-'))
            p->pos++;
        if (!is_digit(p))
            return expected(p, "a digit in the exponent");
        while (is_digit(p))
            p->pos++;
    }
    num->end = p->pos;
    return VDB_OK;
}

/* Whether the literal word stands at pos; consumes it if so. */
static bool take_literal(jp *p, const char *word)
{
    size_t k = strlen(word);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, word, k) != 0)
        return false;
    p->pos += k;
    return true;
}

/* The integer text of num as an int64; false when it does not fit. */
static bool number_to_i64(const jp *p, const number *num, int64_t *out)
{
    const char *s = p->s + num->start, *end = p->s + num->end;
    bool neg = *s == '-';
    s += neg;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; s < end; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* The number as a double, read in the C locale whatever the application set. */
static vdb_status number_to_double(const jp *p, const number *num, double *out)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0)
        return vdb_set_errmsg(VDB_ENOMEM, "%s: cannot create the C locale", p->what);
    size_t len = num->end - num->start;
    char small[64];
    char *text = len < sizeof small ? small : vdb_malloc(len + 1);
    if (!text)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    memcpy(text, p->s + num->start, len);
    text[len] = 0;
    errno = 0;
    double d = strtod_l(text, NULL, c_locale);
    bool overflow = errno == ERANGE && isinf(d);
    if (text != small)
        vdb_free(text);
    if (overflow)
        return vdb_set_errmsg(VDB_EINVAL, "%s: number at byte %zu (%.*s) is out of range",
                              p->what, num->start, (int)VDB_MIN(len, 40u),
                              p->s + num->start);
    *out = d;
    return VDB_OK;
}

/* ---- values ---- */

static vdb_status parse_value(jp *p);

static vdb_status parse_container(jp *p, char close)
{
    size_t open_at = p->pos;
    if (++p->depth > MAX_DEPTH)
        return jerr(p, open_at, "nesting deeper than %d", MAX_DEPTH);
    p->pos++;
    skip_ws(p);
    if (peek(p, close)) {
        p->pos++;
        p->depth--;
        return VDB_OK;
    }
    for (;;) {
        vdb_status st;
        if (close == '}') {
            st = parse_string(p, NULL, NULL);
            if (st != VDB_OK)
                return st;
            skip_ws(p);
            if (!peek(p, ':'))
                return expected(p, "':' after an object key");
            p->pos++;
            skip_ws(p);
        }
        st = parse_value(p);
        if (st != VDB_OK)
            return st;
        skip_ws(p);
        if (peek(p, ',')) {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (peek(p, close)) {
            p->pos++;
            p->depth--;
            return VDB_OK;
        }
        return expected(p, close == '}' ? "',' or '}'" : "',' or ']'");
    }
}

static vdb_status parse_value(jp *p)
{
    if (p->pos >= p->n)
        return expected(p, "a value");
    number num;
    switch (p->s[p->pos]) {
    case '{': return parse_container(p, '}');
    case '[': return parse_container(p, ']');
    case '"': return parse_string(p, NULL, NULL);
    case 't':
        if (take_literal(p, "true"))
            return VDB_OK;
        break;
    case 'f':
        if (take_literal(p, "false"))
            return VDB_OK;
        break;
    case 'n':
        if (take_literal(p, "null"))
            return VDB_OK;
        break;
    default:
        if (p->s[p->pos] == '-' || is_digit(p))
            return parse_number(p, &num);
    }
    return expected(p, "a value");
}

static vdb_status expect_end(jp *p)
{
    skip_ws(p);
    if (p->pos != p->n)
        return jerr(p, p->pos, "unexpected data after the value");
    return VDB_OK;
}

vdb_status vdb_json_validate(const char *s, size_t n, const char *what)
{
    jp p = jp_init(s, n, what);
    if (!s && n)
        return vdb_set_errmsg(VDB_EINVAL, "%s: text is NULL", p.what);
    skip_ws(&p);
    vdb_status st = parse_value(&p);
    return st != VDB_OK ? st : expect_end(&p);
}

/* ---- typed values: array elements and scalars ---- */

static const char *kind_at(const jp *p)
{
    if (p->pos >= p->n)
        return "end of input";
    switch (p->s[p->pos]) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return p->s[p->pos] == '-' || is_digit(p) ? "a number" : "an invalid value";
    }
}

static bool int_range(vdb_type t, int64_t *lo, int64_t *hi)
{
    switch (t) {
    case VDB_TYPE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; return true;
    case VDB_TYPE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; return true;
    case VDB_TYPE_INT32: *lo = INT32_MIN; *hi = INT32_MAX; return true;
    case VDB_TYPE_INT64: *lo = INT64_MIN; *hi = INT64_MAX; return true;
    default: return false;
    }
}

/* Parses one value of type t at pos into out (for VARCHAR, out->s when keep is set, else only
 * its length). `where` names the value in messages ("element 3", "value"). */
static vdb_status parse_typed(jp *p, vdb_type t, uint32_t max_length, bool keep,
                              const char *where, vdb_json_scalar *out)
{
    size_t at = p->pos;
    int64_t lo, hi;
    number num;
    vdb_status st;
    const char *tn = vdb_type_name(t);
    if (t == VDB_TYPE_BOOL) {
        if (take_literal(p, "true") || take_literal(p, "false")) {
            out->i = p->s[at] == 't';
            return VDB_OK;
        }
    } else if (int_range(t, &lo, &hi)) {
        if (p->pos < p->n && (p->s[at] == '-' || is_digit(p))) {
            st = parse_number(p, &num);
            if (st != VDB_OK)
                return st;
            int len = (int)VDB_MIN(num.end - num.start, 40u);
            if (!num.is_int)
                return vdb_set_errmsg(VDB_EINVAL, "%s: %s (byte %zu): %.*s is not an integer",
                                      p->what, where, at, len, p->s + at);
            if (!number_to_i64(p, &num, &out->i) || out->i < lo || out->i > hi)
                return vdb_set_errmsg(VDB_EINVAL,
                                      "%s: %s (byte %zu): %.*s is out of range for %s "
                                      "[%" PRId64 ", %" PRId64 "]",
                                      p->what, where, at, len, p->s + at, tn, lo, hi);
            return VDB_OK;
        }
    } else if (t == VDB_TYPE_FLOAT || t == VDB_TYPE_DOUBLE) {
        if (p->pos < p->n && (p->s[at] == '-' || is_digit(p))) {
            st = parse_number(p, &num);
            if (st == VDB_OK)
                st = number_to_double(p, &num, &out->d);
            if (st != VDB_OK)
                return st;
            if (t == VDB_TYPE_FLOAT && fabs(out->d) > FLT_MAX)
                return vdb_set_errmsg(VDB_EINVAL,
                                      "%s: %s (byte %zu): %.*s is out of range for FLOAT",
                                      p->what, where, at,
                                      (int)VDB_MIN(num.end - num.start, 40u), p->s + at);
            return VDB_OK;
        }
    } else if (t == VDB_TYPE_VARCHAR) {
        if (peek(p, '"')) {
            vdb_buf b = {0};
            st = parse_string(p, keep ? &b : NULL, &out->len);
            if (st == VDB_OK && out->len > max_length)
                st = vdb_set_errmsg(VDB_EINVAL,
                                    "%s: %s (byte %zu): string of %zu bytes is longer than "
                                    "max_length %u",
                                    p->what, where, at, out->len, max_length);
            if (st == VDB_OK && keep) {
                vdb_buf_u8(&b, 0); /* NUL-terminated for callers that print it */
                if (b.oom)
                    st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            }
            if (st != VDB_OK) {
                vdb_buf_free(&b);
                return st;
            }
            out->s = (char *)b.p;
            return VDB_OK;
        }
    } else if (t == VDB_TYPE_JSON || t == VDB_TYPE_ARRAY) {
        if (t == VDB_TYPE_JSON || peek(p, '[')) {
            st = parse_value(p);
            if (st != VDB_OK)
                return st;
            if (keep) {
                out->len = p->pos - at;
                out->s = vdb_strndup(p->s + at, out->len);
                if (!out->s)
                    return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
            }
            return VDB_OK;
        }
    } else {
        return vdb_set_errmsg(VDB_EINVAL, "%s: values of type %s cannot be read from JSON",
                              p->what, tn);
    }
    return vdb_set_errmsg(VDB_EINVAL, "%s: %s (byte %zu): expected %s, found %s", p->what,
                          where, at, tn, kind_at(p));
}

vdb_status vdb_json_check_array(const char *s, size_t n, vdb_type elem, uint32_t max_capacity,
                                uint32_t max_length, const char *what)
{
    jp p = jp_init(s, n, what);
    if (!s && n)
        return vdb_set_errmsg(VDB_EINVAL, "%s: text is NULL", p.what);
    switch (elem) {
    case VDB_TYPE_BOOL:
    case VDB_TYPE_INT8:
    case VDB_TYPE_INT16:
    case VDB_TYPE_INT32:
    case VDB_TYPE_INT64:
    case VDB_TYPE_FLOAT:
    case VDB_TYPE_DOUBLE:
    case VDB_TYPE_VARCHAR:
        break;
    default:
        return vdb_set_errmsg(VDB_EINVAL, "%s: arrays of %s are not supported", p.what,
                              vdb_type_name(elem));
    }
    skip_ws(&p);
    if (!peek(&p, '['))
        return expected(&p, "an array");
    p.pos++;
    skip_ws(&p);
    uint32_t count = 0;
    if (peek(&p, ']')) {
        p.pos++;
        return expect_end(&p);
    }
    for (;;) {
        char where[32];
        snprintf(where, sizeof where, "element %u", count);
        if (count >= max_capacity)
            return vdb_set_errmsg(VDB_EINVAL,
                                  "%s: %s (byte %zu): the array has more than max_capacity %u "
                                  "elements",
                                  p.what, where, p.pos, max_capacity);
        vdb_json_scalar v = {0};
        vdb_status st = parse_typed(&p, elem, max_length, false, where, &v);
        if (st != VDB_OK)
            return st;
        count++;
        skip_ws(&p);
        if (peek(&p, ',')) {
            p.pos++;
            skip_ws(&p);
            continue;
        }
        if (peek(&p, ']')) {
            p.pos++;
            return expect_end(&p);
        }
        return expected(&p, "',' or ']'");
    }
}

vdb_status vdb_json_parse_scalar(const char *s, size_t n, vdb_type type, uint32_t max_length,
                                 vdb_json_scalar *out)
{
    char what[48];
    snprintf(what, sizeof what, "%s value", vdb_type_name(type));
    memset(out, 0, sizeof *out);
    out->type = type;
    jp p = jp_init(s, n, what);
    if (!s && n)
        return vdb_set_errmsg(VDB_EINVAL, "%s: text is NULL", p.what);
    skip_ws(&p);
    vdb_status st = parse_typed(&p, type, max_length, true, "value", out);
    if (st == VDB_OK)
        st = expect_end(&p);
    if (st != VDB_OK) {
        vdb_json_scalar_free(out);
        out->type = type;
    }
    return st;
}

void vdb_json_scalar_free(vdb_json_scalar *v)
{
    if (!v)
        return;
    vdb_free(v->s);
    memset(v, 0, sizeof *v);
}

/* ---- object members ---- */

/* Called per member with the raw key text (between its quotes) and the raw value text;
 * returns non-zero to stop. */
typedef int (*member_fn)(void *arg, const jp *p, const char *key, size_t klen,
                         bool escaped, const char *val, size_t vlen);

static vdb_status each_member(const char *s, size_t n, member_fn fn, void *arg)
{
    if (!s)
        return vdb_set_errmsg(VDB_EINVAL, "JSON object: text is NULL");
    jp p = jp_init(s, n, "JSON object");
    skip_ws(&p);
    if (!peek(&p, '{'))
        return vdb_set_errmsg(VDB_EINVAL, "JSON object: not an object");
    p.pos++;
    p.depth = 1;
    skip_ws(&p);
    if (peek(&p, '}'))
        return VDB_OK;
    for (;;) {
        size_t kstart = p.pos + 1;
        vdb_status st = parse_string(&p, NULL, NULL);
        if (st != VDB_OK)
            return st;
        size_t kend = p.pos - 1;
        skip_ws(&p);
        if (!peek(&p, ':'))
            return expected(&p, "':' after an object key");
        p.pos++;
        skip_ws(&p);
        size_t vstart = p.pos;
        st = parse_value(&p);
        if (st != VDB_OK)
            return st;
        bool escaped = memchr(s + kstart, '\\', kend - kstart) != NULL;
        if (fn(arg, &p, s + kstart, kend - kstart, escaped, s + vstart, p.pos - vstart))
            return VDB_OK;
        skip_ws(&p);
        if (peek(&p, ',')) {
            p.pos++;
            skip_ws(&p);
            continue;
        }
        if (peek(&p, '}'))
            return VDB_OK;
        return expected(&p, "',' or '}'");
    }
}

/* The unescaped text of a raw key (between its quotes) into b, NUL-terminated. */
static vdb_status unescape_key(const char *key, size_t klen, vdb_buf *b)
{
    jp q = jp_init(key - 1, klen + 2, "JSON object key");
    b->len = 0;
    vdb_status st = parse_string(&q, b, NULL);
    if (st != VDB_OK)
        return st;
    vdb_buf_u8(b, 0);
    if (b->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    b->len--;
    return VDB_OK;
}

typedef struct get_ctx {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
    bool hit;
    vdb_buf tmp;
} get_ctx;

static int get_member(void *arg, const jp *p, const char *key, size_t klen, bool escaped,
                      const char *val, size_t vlen)
{
    get_ctx *g = arg;
    (void)p;
    if (escaped) {
        if (unescape_key(key, klen, &g->tmp) != VDB_OK)
            return 1;
        key = (const char *)g->tmp.p;
        klen = g->tmp.len;
    }
    if (klen != g->klen || memcmp(key, g->key, klen) != 0)
        return 0;
    g->hit = true;
    g->val = val;
    g->vlen = vlen;
    return 1;
}

bool vdb_json_get(const char *obj, size_t n, const char *key, const char **val, size_t *vlen)
{
    if (!key)
        return false;
    get_ctx g = {key, strlen(key), NULL, 0, false, {0}};
    vdb_status st = each_member(obj, n, get_member, &g);
    vdb_buf_free(&g.tmp);
    if (st != VDB_OK || !g.hit)
        return false;
    *val = g.val;
    *vlen = g.vlen;
    return true;
}

bool vdb_json_is_object(const char *s, size_t n)
{
    jp p = jp_init(s, n, NULL);
    if (!s)
        return false;
    skip_ws(&p);
    return peek(&p, '{');
}

typedef struct each_ctx {
    int (*fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen);
    void *arg;
    vdb_buf tmp;
    vdb_status st;
} each_ctx;

static int each_user(void *arg, const jp *p, const char *key, size_t klen, bool escaped,
                     const char *val, size_t vlen)
{
    each_ctx *c = arg;
    (void)p;
    (void)escaped;
    c->st = unescape_key(key, klen, &c->tmp);
    if (c->st != VDB_OK)
        return 1;
    return c->fn(c->arg, (const char *)c->tmp.p, c->tmp.len, val, vlen);
}

vdb_status vdb_json_each(const char *obj, size_t n,
                         int (*fn)(void *arg, const char *key, size_t klen, const char *val,
                                   size_t vlen),
                         void *arg)
{
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "JSON object: callback is NULL");
    each_ctx c = {fn, arg, {0}, VDB_OK};
    vdb_status st = each_member(obj, n, each_user, &c);
    vdb_buf_free(&c.tmp);
    return st != VDB_OK ? st : c.st;
}

/* ---- writing ---- */

static void buf_put(void *arg, const char *p, size_t len) { vdb_buf_put(arg, p, len); }

void vdb_json_put_string(vdb_buf *out, const char *s, size_t n)
{
    vdb_json_escape(s, n, buf_put, out);
}

/* ---- typed array elements ---- */

vdb_status vdb_json_array_each(const char *s, size_t n, vdb_type elem, vdb_buf *scratch,
                               vdb_json_elem_fn fn, void *arg)
{
    jp p = jp_init(s, n, "array");
    vdb_buf own = {0}, *str = scratch ? scratch : &own; /* one buffer for every string */
    vdb_status st = VDB_OK;
    if (!s && n)
        return vdb_set_errmsg(VDB_EINVAL, "array: text is NULL");
    skip_ws(&p);
    if (!peek(&p, '['))
        return expected(&p, "an array");
    p.pos++;
    skip_ws(&p);
    if (peek(&p, ']'))
        return VDB_OK;
    for (;;) {
        vdb_json_scalar v = {.type = elem};
        if (elem == VDB_TYPE_VARCHAR) {
            str->len = 0;
            st = parse_string(&p, str, &v.len);
            if (st == VDB_OK && str->oom)
                st = vdb_set_errmsg(VDB_ENOMEM, "array: out of memory");
            v.s = (char *)str->p;
        } else {
            st = parse_typed(&p, elem, 0, false, "element", &v);
        }
        if (st != VDB_OK || (st = fn(arg, &v)) != VDB_OK)
            break;
        skip_ws(&p);
        if (peek(&p, ',')) {
            p.pos++;
            skip_ws(&p);
            continue;
        }
        if (!peek(&p, ']'))
            st = expected(&p, "',' or ']'");
        break;
    }
    vdb_buf_free(&own);
    return st;
}

/* ---- array elements ---- */

vdb_status vdb_json_each_elem(const char *arr, size_t n,
                              int (*fn)(void *arg, size_t i, const char *val, size_t vlen),
                              void *arg)
{
    if (!arr || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "JSON array: text or callback is NULL");
    jp p = jp_init(arr, n, "JSON array");
    skip_ws(&p);
    if (!peek(&p, '['))
        return vdb_set_errmsg(VDB_EINVAL, "JSON array: not an array");
    p.pos++;
    p.depth = 1;
    skip_ws(&p);
    if (peek(&p, ']'))
        return VDB_OK;
    for (size_t i = 0;; i++) {
        size_t vstart = p.pos;
        vdb_status st = parse_value(&p);
        if (st != VDB_OK)
            return st;
        if (fn(arg, i, arr + vstart, p.pos - vstart))
            return VDB_OK;
        skip_ws(&p);
        if (peek(&p, ',')) {
            p.pos++;
            skip_ws(&p);
            continue;
        }
        if (peek(&p, ']'))
            return VDB_OK;
        return expected(&p, "',' or ']'");
    }
}

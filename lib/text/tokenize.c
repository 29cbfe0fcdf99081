/* The standard tokenizer (UAX #29 word boundaries, for the scripts text.h names) and the
 * whitespace tokenizer. Both keep each token's position: its index among the tokens. */
#include "text/text.h"

/* Word_Break classes, the part of UAX #29 the tokenizer needs. */
enum wb {
    WB_OTHER,
    WB_LETTER,    /* ALetter and Hebrew_Letter */
    WB_NUMERIC,
    WB_KATAKANA,
    WB_IDEO,      /* Han and Hiragana: a token each */
    WB_EXTENDNUM, /* ExtendNumLet: '_' and friends */
    WB_MIDLETTER,
    WB_MIDNUM,
    WB_MIDNUMLET, /* MidNumLet and Single_Quote */
    WB_EXTEND,    /* Extend, Format, ZWJ: belong to the character before (WB4) */
};

static bool in(uint32_t c, uint32_t lo, uint32_t hi)
{
    return c >= lo && c <= hi;
}

static enum wb wb_class(uint32_t c)
{
    if (c < 0x80) {
        if ((c | 32) >= 'a' && (c | 32) <= 'z')
            return WB_LETTER;
        if (c >= '0' && c <= '9')
            return WB_NUMERIC;
        switch (c) {
        case '_': return WB_EXTENDNUM;
        case ':': return WB_MIDLETTER;
        case ',': case ';': return WB_MIDNUM;
        case '.': case '\'': return WB_MIDNUMLET;
        default: return WB_OTHER;
        }
    }
    switch (c) {
    case 0xaa: case 0xb5: case 0xba: return WB_LETTER;
    case 0xb7: case 0x387: case 0x55f: case 0x5f4: case 0x2027: case 0xfe13: case 0xfe55:
    case 0xff1a:
        return WB_MIDLETTER;
    case 0x37e: case 0x589: case 0x60c: case 0x60d: case 0x66c: case 0x7f8: case 0x2044:
    case 0xfe10: case 0xfe14: case 0xfe50: case 0xfe54: case 0xff0c: case 0xff1b:
        return WB_MIDNUM;
    case 0x2018: case 0x2019: case 0x2024: case 0xfe52: case 0xff07: case 0xff0e:
        return WB_MIDNUMLET;
    case 0x203f: case 0x2040: case 0x2054: case 0xfe33: case 0xfe34: case 0xff3f:
        return WB_EXTENDNUM;
    case 0xad: case 0x200c: case 0x200d: case 0x200e: case 0x200f: case 0xfeff:
        return WB_EXTEND;
    case 0xd7: case 0xf7: case 0x375: case 0x384: case 0x385:
        return WB_OTHER;
    default: break;
    }
    if (in(c, 0xc0, 0x2ff) || in(c, 0x370, 0x3ff) || in(c, 0x400, 0x482) ||
        in(c, 0x48a, 0x52f) || in(c, 0x531, 0x556) || in(c, 0x561, 0x587) ||
        in(c, 0x5d0, 0x5ea) || in(c, 0x620, 0x64a) || in(c, 0x671, 0x6d3) ||
        in(c, 0x10a0, 0x10ff) || in(c, 0x1e00, 0x1fff) || in(c, 0x2c00, 0x2e7f) ||
        in(c, 0xa640, 0xa69f) || in(c, 0xa720, 0xa7ff) || in(c, 0xac00, 0xd7a3) ||
        in(c, 0x1100, 0x11ff) || in(c, 0xff21, 0xff3a) || in(c, 0xff41, 0xff5a))
        return WB_LETTER;
    if (in(c, 0x660, 0x669) || in(c, 0x6f0, 0x6f9) || in(c, 0x966, 0x96f) ||
        in(c, 0xff10, 0xff19))
        return WB_NUMERIC;
    if (in(c, 0x300, 0x36f) || in(c, 0x483, 0x489) || in(c, 0x591, 0x5bd) ||
        in(c, 0x610, 0x61a) || in(c, 0x64b, 0x65f) || in(c, 0x1ab0, 0x1aff) ||
        in(c, 0x1dc0, 0x1dff) || in(c, 0x20d0, 0x20ff) || in(c, 0x2060, 0x2064) ||
        in(c, 0xfe00, 0xfe0f) || in(c, 0xfe20, 0xfe2f) || in(c, 0x3099, 0x309a))
        return WB_EXTEND;
    if (in(c, 0x30a0, 0x30ff) || in(c, 0x31f0, 0x31ff) || in(c, 0xff66, 0xff9f))
        return WB_KATAKANA;
    if (in(c, 0x3040, 0x309f) || in(c, 0x3400, 0x4dbf) || in(c, 0x4e00, 0x9fff) ||
        in(c, 0xf900, 0xfaff) || in(c, 0x20000, 0x3ffff) || c == 0x3005 || c == 0x3007)
        return WB_IDEO;
    return WB_OTHER;
}

/* One character with the Extend/Format characters after it (WB4). */
typedef struct unit {
    size_t start, end;
    enum wb cls;
} unit;

/* The unit at s[i..n); false at the end. Text is valid UTF-8 (checked by the caller). */
static bool next_unit(const char *s, size_t n, size_t i, unit *u)
{
    uint32_t c;
    if (i >= n || !vdb_utf8_next(s, n, &i, &c))
        return false;
    u->start = i - (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
    u->cls = wb_class(c);
    while (i < n) {
        size_t j = i;
        if (!vdb_utf8_next(s, n, &j, &c) || wb_class(c) != WB_EXTEND)
            break;
        i = j;
    }
    u->end = i;
    return true;
}

static bool ahletter(enum wb c)
{
    return c == WB_LETTER;
}

/* Whether there is no word boundary between a (the last unit of the word so far) and b;
 * for the mid-word rules (WB6/7, WB11/12) c is the unit after b. */
static bool joins(enum wb a, enum wb b)
{
    if (ahletter(a) && ahletter(b))
        return true; /* WB5 */
    if (a == WB_NUMERIC && b == WB_NUMERIC)
        return true; /* WB8 */
    if ((ahletter(a) && b == WB_NUMERIC) || (a == WB_NUMERIC && ahletter(b)))
        return true; /* WB9, WB10 */
    if (a == WB_KATAKANA && b == WB_KATAKANA)
        return true; /* WB13 */
    if ((ahletter(a) || a == WB_NUMERIC || a == WB_KATAKANA || a == WB_EXTENDNUM) &&
        b == WB_EXTENDNUM)
        return true; /* WB13a */
    if (a == WB_EXTENDNUM && (ahletter(b) || b == WB_NUMERIC || b == WB_KATAKANA))
        return true; /* WB13b */
    return false;
}

static bool mid_joins(enum wb a, enum wb mid, enum wb c)
{
    if (ahletter(a) && ahletter(c) && (mid == WB_MIDLETTER || mid == WB_MIDNUMLET))
        return true; /* WB6, WB7 */
    if (a == WB_NUMERIC && c == WB_NUMERIC && (mid == WB_MIDNUM || mid == WB_MIDNUMLET))
        return true; /* WB11, WB12 */
    return false;
}

bool vdb_tokenize_standard(const char *s, size_t n, vdb_tokens *out)
{
    uint32_t pos = 0;
    size_t i = 0;
    unit u;
    while (next_unit(s, n, i, &u)) {
        i = u.end;
        if (u.cls == WB_IDEO) {
            if (!vdb_tokens_push(out, s + u.start, u.end - u.start, pos++))
                return false;
            continue;
        }
        if (u.cls != WB_LETTER && u.cls != WB_NUMERIC && u.cls != WB_KATAKANA &&
            u.cls != WB_EXTENDNUM)
            continue;
        size_t start = u.start;
        enum wb last = u.cls;
        bool word = u.cls != WB_EXTENDNUM; /* a run of '_' alone is no word */
        unit v, w;
        while (next_unit(s, n, i, &v)) {
            if (joins(last, v.cls)) {
                last = v.cls;
                i = v.end;
                word = word || v.cls != WB_EXTENDNUM;
                continue;
            }
            if (next_unit(s, n, v.end, &w) && mid_joins(last, v.cls, w.cls)) {
                last = w.cls;
                i = w.end;
                continue;
            }
            break;
        }
        if (word && !vdb_tokens_push(out, s + start, i - start, pos++))
            return false;
    }
    return true;
}

static bool is_space(uint32_t c)
{
    return (c >= 0x9 && c <= 0xd) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

bool vdb_tokenize_whitespace(const char *s, size_t n, vdb_tokens *out)
{
    uint32_t pos = 0;
    size_t i = 0, start = 0;
    bool inword = false;
    while (i < n) {
        size_t at = i;
        uint32_t c;
        if (!vdb_utf8_next(s, n, &i, &c))
            return true; /* the caller validated; never here */
        if (is_space(c)) {
            if (inword && !vdb_tokens_push(out, s + start, at - start, pos++))
                return false;
            inword = false;
        } else if (!inword) {
            inword = true;
            start = at;
        }
    }
    if (inword && !vdb_tokens_push(out, s + start, n - start, pos++))
        return false;
    return true;
}

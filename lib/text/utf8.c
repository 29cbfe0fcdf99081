/* UTF-8 decoding and validation, and Unicode simple case folding for the common scripts. */
#include "text/text.h"

bool vdb_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *)s + *i;
    size_t left = n - *i;
    if (left == 0)
        return false;
    uint8_t b = p[0];
    if (b < 0x80) {
        *cp = b;
        *i += 1;
        return true;
    }
    size_t len;
    uint32_t c, min;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2, c = b & 0x1f, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, c = b & 0x0f, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, c = b & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (left < len)
        return false;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return false;
        c = (c << 6) | (p[k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return false;
    *cp = c;
    *i += len;
    return true;
}

bool vdb_utf8_valid(const char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        if (!vdb_utf8_next(s, n, &i, &cp)) {
            if (bad)
                *bad = i;
            return false;
        }
    }
    return true;
}

size_t vdb_utf8_put(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Ranges where upper and lower case alternate: the even (or odd) code point is the capital
 * and folds to the next one. */
static bool alternating(uint32_t cp, uint32_t lo, uint32_t hi, bool upper_even)
{
    return cp >= lo && cp <= hi && ((cp & 1u) == 0) == upper_even;
}

uint32_t vdb_casefold(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp < 0x100) {
        if (cp == 0xb5)
            return 0x3bc; /* MICRO SIGN folds to Greek mu */
        if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
            return cp + 32;
        return cp;
    }
    if (cp < 0x180) {
        if (cp == 0x130)
            return cp; /* I WITH DOT ABOVE: only full (F) and Turkic (T) foldings */
        if (cp == 0x178)
            return 0xff;
        if (cp == 0x17f)
            return 's';
        if (alternating(cp, 0x100, 0x12f, true) || alternating(cp, 0x132, 0x137, true) ||
            alternating(cp, 0x139, 0x148, false) || alternating(cp, 0x14a, 0x177, true) ||
            alternating(cp, 0x179, 0x17e, false))
            return cp + 1;
        return cp;
    }
    if (cp < 0x250) {
        switch (cp) {
        case 0x1c4: case 0x1c5: return 0x1c6;
        case 0x1c7: case 0x1c8: return 0x1c9;
        case 0x1ca: case 0x1cb: return 0x1cc;
        case 0x1f1: case 0x1f2: return 0x1f3;
        default: break;
        }
        if (alternating(cp, 0x1cd, 0x1dc, false) || alternating(cp, 0x1de, 0x1ef, true) ||
            alternating(cp, 0x1f8, 0x21f, true) || alternating(cp, 0x222, 0x233, true) ||
            alternating(cp, 0x246, 0x24f, true))
            return cp + 1;
        return cp;
    }
    if (cp >= 0x370 && cp < 0x400) {
        if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
            return cp + 32;
        switch (cp) {
        case 0x386: return 0x3ac;
        case 0x388: case 0x389: case 0x38a: return cp + 37;
        case 0x38c: return 0x3cc;
        case 0x38e: case 0x38f: return cp + 63;
        case 0x3c2: return 0x3c3; /* final sigma */
        case 0x3d0: return 0x3b2;
        case 0x3d1: return 0x3b8;
        case 0x3d5: return 0x3c6;
        case 0x3d6: return 0x3c0;
        case 0x3f0: return 0x3ba;
        case 0x3f1: return 0x3c1;
        case 0x3f5: return 0x3b5;
        default: break;
        }
        if (alternating(cp, 0x3d8, 0x3ef, true))
            return cp + 1;
        return cp;
    }
    if (cp >= 0x400 && cp < 0x530) {
        if (cp <= 0x40f)
            return cp + 80;
        if (cp <= 0x42f)
            return cp + 32;
        if (cp == 0x4c0)
            return 0x4cf;
        if (alternating(cp, 0x460, 0x481, true) || alternating(cp, 0x48a, 0x4bf, true) ||
            alternating(cp, 0x4c1, 0x4ce, false) || alternating(cp, 0x4d0, 0x52f, true))
            return cp + 1;
        return cp;
    }
    if (cp >= 0x531 && cp <= 0x556)
        return cp + 48;
    if (cp >= 0x10a0 && cp <= 0x10c5)
        return cp - 0x10a0 + 0x2d00;
    if (cp >= 0x1e00 && cp <= 0x1eff) {
        if (cp == 0x1e9e)
            return 0xdf; /* capital sharp s */
        if (alternating(cp, 0x1e00, 0x1e95, true) || alternating(cp, 0x1ea0, 0x1eff, true))
            return cp + 1;
        return cp;
    }
    if (cp >= 0xff21 && cp <= 0xff3a)
        return cp + 32;
    return cp;
}

/* azblob: the small codecs the REST calls need: base64, HMAC-SHA256 (libcrypto), percent
 * encoding, XML text and the HTTP date. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "azure_internal.h"

char *az_b64_encode(const void *data, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

long az_b64_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4 || n / 4 * 3 > cap + 2)
        return -1;
    unsigned char *tmp = malloc(n / 4 * 3 + 1);
    if (!tmp)
        return -1;
    int got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    /* EVP_DecodeBlock counts the bytes the '=' padding stands for */
    if (got >= 0 && s[n - 1] == '=')
        got -= s[n - 2] == '=' ? 2 : 1;
    if (got < 0 || (size_t)got > cap) {
        free(tmp);
        return -1;
    }
    memcpy(out, tmp, (size_t)got);
    free(tmp);
    return got;
}

int az_hmac_b64(const void *key, size_t key_len, const char *msg, size_t msg_len, char out[64])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, msg_len, mac,
              &mac_len))
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return 0;
}

char *az_pct_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void az_pct_decode(char *s, int plus)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else if (plus && *p == '+') {
            *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

/* Writes code point cp as UTF-8 at o; returns the bytes written (0 for an invalid one). */
static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp < 0x110000) {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

void az_xml_unescape(char *s)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    char *o = s;
    for (char *p = s; *p;) {
        if (*p != '&') {
            *o++ = *p++;
            continue;
        }
        int done = 0;
        for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
            size_t l = strlen(named[i].name);
            if (!strncmp(p + 1, named[i].name, l)) {
                *o++ = named[i].c;
                p += 1 + l;
                done = 1;
                break;
            }
        }
        if (!done && p[1] == '#') {
            char *end = NULL;
            unsigned long cp = p[2] == 'x' || p[2] == 'X' ? strtoul(p + 3, &end, 16)
                                                         : strtoul(p + 2, &end, 10);
            /* a reference is never shorter than its UTF-8 form, so o stays behind p */
            if (end && *end == ';' && end > p + 2) {
                size_t w = put_utf8(o, cp);
                if (w) {
                    o += w;
                    p = end + 1;
                    done = 1;
                }
            }
        }
        if (!done)
            *o++ = *p++;
    }
    *o = 0;
}

const char *az_xml_find(const char *p, const char *end, const char *tag, const char **start,
                        size_t *len, const char **attrs, size_t *alen)
{
    size_t tl = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || (size_t)(end - lt) < tl + 2)
            return NULL;
        if (!strncmp(lt + 1, tag, tl) && (lt[1 + tl] == '>' || lt[1 + tl] == ' ' ||
                                          lt[1 + tl] == '/')) {
            const char *gt = memchr(lt, '>', (size_t)(end - lt));
            if (!gt)
                return NULL;
            if (attrs) {
                *attrs = lt + 1 + tl;
                *alen = (size_t)(gt - *attrs);
            }
            if (gt[-1] == '/') { /* <Tag/>: empty */
                *start = gt + 1;
                *len = 0;
                return gt + 1;
            }
            const char *body = gt + 1;
            for (const char *q = body; q < end;) {
                const char *c = memchr(q, '<', (size_t)(end - q));
                if (!c || (size_t)(end - c) < tl + 3)
                    return NULL;
                if (c[1] == '/' && !strncmp(c + 2, tag, tl) && c[2 + tl] == '>') {
                    *start = body;
                    *len = (size_t)(c - body);
                    return c + 3 + tl;
                }
                q = c + 1;
            }
            return NULL;
        }
        p = lt + 1;
    }
    return NULL;
}

void az_http_date(char out[40])
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* S3 backend helpers with no I/O: the s3:// URI, percent-encoding, SHA-256, and the small
 * subset of XML that S3 answers with (no CDATA, comments or attributes in the elements read;
 * all character data escaped, so a '<' in the text is always markup). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3.h"

static const char hexdig[] = "0123456789ABCDEF";

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

char *vdb_s3_uri_encode(const char *s, bool keep_slash)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hexdig[*p >> 4];
            *o++ = hexdig[*p & 15];
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

char *vdb_s3_pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = 0;
    return out;
}

void vdb_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char lower[] = "0123456789abcdef";
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* libcrypto failing here is out of memory; an all-zero hash makes S3 refuse the
         * request with XAmzContentSHA256Mismatch rather than store anything wrong. */
        memset(md, 0, sizeof md);
    }
    for (int i = 0; i < 32; i++) {
        out[2 * i] = lower[md[i] >> 4];
        out[2 * i + 1] = lower[md[i] & 15];
    }
    out[64] = 0;
}

/* ---- XML ---- */

static size_t utf8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *vdb_s3_xml_unescape(const char *s, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    char *out = malloc(n + 1), *o = out; /* a reference is never shorter than its UTF-8 */
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            *o++ = s[i++];
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi)
            goto bad;
        const char *ref = s + i + 1;
        size_t rlen = (size_t)(semi - ref);
        if (rlen >= 2 && ref[0] == '#') {
            unsigned long cp = 0;
            bool hex = ref[1] == 'x' || ref[1] == 'X';
            size_t d = hex ? 2 : 1;
            if (d >= rlen || rlen - d > 8)
                goto bad;
            for (; d < rlen; d++) {
                int v = hex ? hexval(ref[d]) : (isdigit((unsigned char)ref[d]) ? ref[d] - '0' : -1);
                if (v < 0)
                    goto bad;
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
            }
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                goto bad;
            o += utf8_put(o, cp);
        } else {
            size_t k = 0;
            for (; k < sizeof named / sizeof named[0]; k++)
                if (strlen(named[k].name) == rlen && !memcmp(ref, named[k].name, rlen))
                    break;
            if (k == sizeof named / sizeof named[0])
                goto bad;
            *o++ = named[k].c;
        }
        i = (size_t)(semi - s) + 1;
    }
    *o = 0;
    return out;
bad:
    free(out);
    return NULL;
}

char *vdb_s3_xml_text(const char *xml, size_t len, const char *tag, size_t *from)
{
    size_t tlen = strlen(tag);
    size_t pos = from ? *from : 0;
    while (pos < len) {
        const char *lt = memchr(xml + pos, '<', len - pos);
        if (!lt)
            return NULL;
        size_t at = (size_t)(lt - xml) + 1;
        pos = at;
        if (len - at < tlen + 1 || memcmp(xml + at, tag, tlen) != 0)
            continue;
        char after = xml[at + tlen];
        if (after == '/' && at + tlen + 1 < len && xml[at + tlen + 1] == '>') {
            if (from)
                *from = at + tlen + 2;
            return strdup("");
        }
        if (after != '>')
            continue; /* a longer name sharing the prefix, or attributes we do not read */
        size_t start = at + tlen + 1;
        /* the text cannot hold '<', so the next '<' starts the closing tag */
        const char *end = memchr(xml + start, '<', len - start);
        if (!end)
            return NULL;
        size_t stop = (size_t)(end - xml);
        if (len - stop < tlen + 3 || xml[stop + 1] != '/' ||
            memcmp(xml + stop + 2, tag, tlen) != 0 || xml[stop + 2 + tlen] != '>')
            return NULL;
        if (from)
            *from = stop + tlen + 3;
        return vdb_s3_xml_unescape(xml + start, stop - start);
    }
    return NULL;
}

char *vdb_s3_xml_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(6 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: *o++ = *s; continue;
        }
        size_t rl = strlen(rep);
        memcpy(o, rep, rl);
        o += rl;
    }
    *o = 0;
    return out;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    if (!*s)
        return false;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return true;
}

/* The bounds [start, end) of the next <name>...</name> element at or after *from. */
static bool find_element(const char *xml, size_t len, const char *name, size_t *from,
                         size_t *start, size_t *end)
{
    char open[64], close[64];
    int on = snprintf(open, sizeof open, "<%s>", name);
    int cn = snprintf(close, sizeof close, "</%s>", name);
    const char *o = memmem(xml + *from, len - *from, open, (size_t)on);
    if (!o)
        return false;
    size_t s = (size_t)(o - xml) + (size_t)on;
    const char *c = memmem(xml + s, len - s, close, (size_t)cn);
    if (!c)
        return false;
    *start = s;
    *end = (size_t)(c - xml);
    *from = *end + (size_t)cn;
    return true;
}

void vdb_s3_list_page_free(s3_list_page *page)
{
    for (size_t i = 0; i < page->count; i++)
        free(page->entries[i].key);
    free(page->entries);
    free(page->next_token);
    memset(page, 0, sizeof *page);
}

vdb_status vdb_s3_parse_list(const char *xml, size_t len, s3_list_page *page)
{
    memset(page, 0, sizeof *page);
    if (!xml || !memmem(xml, len, "<ListBucketResult", 17))
        return vdb_set_errmsg(VDB_ECORRUPT, "s3 list: the answer is not a ListBucketResult "
                                            "(%zu bytes: %.80s)", len, xml ? xml : "");
    vdb_status st = VDB_OK;
    size_t cap = 0, from = 0, s, e;
    while (find_element(xml, len, "Contents", &from, &s, &e)) {
        size_t kf = 0, sf = 0;
        char *key = vdb_s3_xml_text(xml + s, e - s, "Key", &kf);
        char *size = vdb_s3_xml_text(xml + s, e - s, "Size", &sf);
        uint64_t sz = 0;
        if (!key || !*key || !size || !parse_u64(size, &sz)) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "s3 list: a <Contents> entry without a valid "
                                              "<Key> and <Size> (%.120s)", xml + s);
            free(key);
            free(size);
            goto fail;
        }
        free(size);
        if (page->count == cap) {
            cap = cap ? 2 * cap : 64;
            s3_list_entry *n = realloc(page->entries, cap * sizeof *n);
            if (!n) {
                free(key);
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory parsing an s3 listing");
                goto fail;
            }
            page->entries = n;
        }
        page->entries[page->count].key = key;
        page->entries[page->count++].size = sz;
    }
    char *trunc = vdb_s3_xml_text(xml, len, "IsTruncated", NULL);
    page->truncated = trunc && !strcmp(trunc, "true");
    free(trunc);
    if (page->truncated) {
        page->next_token = vdb_s3_xml_text(xml, len, "NextContinuationToken", NULL);
        if (!page->next_token || !*page->next_token) {
            st = vdb_set_errmsg(VDB_ECORRUPT, "s3 list: a truncated page without a "
                                              "<NextContinuationToken>");
            goto fail;
        }
    }
    return VDB_OK;
fail:
    vdb_s3_list_page_free(page);
    return st;
}

/* ---- the URI ---- */

void vdb_s3_config_free(s3_config *cfg)
{
    free(cfg->bucket);
    free(cfg->prefix);
    free(cfg->endpoint);
    free(cfg->region);
    free(cfg->access_key);
    if (cfg->secret_key) {
        explicit_bzero(cfg->secret_key, strlen(cfg->secret_key));
        free(cfg->secret_key);
    }
    free(cfg->session_token);
    memset(cfg, 0, sizeof *cfg);
}

static bool parse_num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t x;
    if (!parse_u64(v, &x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "0") || !strcmp(v, "false")) {
        *out = false;
        return true;
    }
    return false;
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

static bool bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

/* One k=v pair of the query into cfg. */
static vdb_status apply_param(s3_config *cfg, const char *k, char *v, bool *set_threshold,
                              bool *set_path_style)
{
    uint64_t x;
    char **dst = NULL;
    if (!strcmp(k, "endpoint"))
        dst = &cfg->endpoint;
    else if (!strcmp(k, "region"))
        dst = &cfg->region;
    else if (!strcmp(k, "access_key"))
        dst = &cfg->access_key;
    else if (!strcmp(k, "secret_key"))
        dst = &cfg->secret_key;
    else if (!strcmp(k, "session_token"))
        dst = &cfg->session_token;
    if (dst) {
        free(*dst);
        *dst = v;
        return VDB_OK;
    }
    vdb_status st = VDB_OK;
    if (!strcmp(k, "part_size")) {
        if (!parse_num(v, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE, &x))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: part_size=%s is not a byte count from %zu "
                                "(S3's smallest part) to %zu", v, S3_MIN_PART_SIZE,
                                S3_MAX_PART_SIZE);
        else
            cfg->part_size = (size_t)x;
    } else if (!strcmp(k, "multipart_threshold")) {
        if (!parse_num(v, 1, S3_MAX_PART_SIZE, &x))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: multipart_threshold=%s is not a byte count "
                                "from 1 to %zu", v, S3_MAX_PART_SIZE);
        else
            cfg->multipart_threshold = (size_t)x, *set_threshold = true;
    } else if (!strcmp(k, "timeout_ms")) {
        if (!parse_num(v, 1, 24u * 3600 * 1000, &x))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: timeout_ms=%s is not a number of "
                                "milliseconds", v);
        else
            cfg->timeout_ms = (uint32_t)x;
    } else if (!strcmp(k, "tries")) {
        if (!parse_num(v, 1, S3_MAX_TRIES, &x))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: tries=%s is not from 1 to %d", v,
                                S3_MAX_TRIES);
        else
            cfg->max_tries = (int)x;
    } else if (!strcmp(k, "path_style")) {
        if (!parse_bool(v, &cfg->path_style))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: path_style=%s is not 0 or 1", v);
        *set_path_style = true;
    } else if (!strcmp(k, "unsigned_payload")) {
        if (!parse_bool(v, &cfg->unsigned_payload))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: unsigned_payload=%s is not 0 or 1", v);
    } else if (!strcmp(k, "anonymous")) {
        if (!parse_bool(v, &cfg->anonymous))
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: anonymous=%s is not 0 or 1", v);
    } else {
        st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: unknown parameter '%s' (known: endpoint, "
                            "region, access_key, secret_key, session_token, part_size, "
                            "multipart_threshold, timeout_ms, tries, path_style, "
                            "unsigned_payload, anonymous)", k);
    }
    free(v);
    return st;
}

vdb_status vdb_s3_config_parse(const char *uri, const vdb_backend_options *opt, s3_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->part_size = S3_DEFAULT_PART_SIZE;
    cfg->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : S3_DEFAULT_TIMEOUT_MS;
    cfg->max_tries = S3_DEFAULT_TRIES;
    bool set_threshold = false, set_path_style = false;
    vdb_status st = VDB_OK;
    if (!uri || strncmp(uri, "s3://", 5) != 0)
        return vdb_set_errmsg(VDB_EINVAL, "s3 URI must start with s3:// (s3://bucket/prefix"
                                          "?endpoint=...&region=...)");
    const char *p = uri + 5;
    size_t blen = strcspn(p, "/?");
    if (blen == 0)
        return vdb_set_errmsg(VDB_EINVAL, "s3 URI has no bucket (s3://bucket/prefix?...)");
    for (size_t i = 0; i < blen; i++)
        if (!bucket_char(p[i]))
            return vdb_set_errmsg(VDB_EINVAL, "s3 URI: bucket name '%.*s' has a character "
                                  "outside a-z 0-9 . - _", (int)blen, p);
    if (blen > 255)
        return vdb_set_errmsg(VDB_EINVAL, "s3 URI: bucket name of %zu bytes is too long", blen);
    cfg->bucket = strndup(p, blen);
    if (!cfg->bucket)
        goto oom;
    p += blen;
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    /* prefix: no leading or trailing '/', then one trailing '/' so keys sit below it */
    while (plen && *p == '/')
        p++, plen--;
    while (plen && p[plen - 1] == '/')
        plen--;
    char *prefix = vdb_s3_pct_decode(p, plen);
    if (!prefix) {
        st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: bad %%-escape in the prefix '%.*s'", (int)plen,
                            p);
        goto fail;
    }
    if (*prefix) {
        size_t n = strlen(prefix);
        cfg->prefix = malloc(n + 2);
        if (!cfg->prefix) {
            free(prefix);
            goto oom;
        }
        memcpy(cfg->prefix, prefix, n);
        memcpy(cfg->prefix + n, "/", 2);
        free(prefix);
    } else {
        cfg->prefix = prefix;
    }
    if (strlen(cfg->prefix) >= S3_MAX_KEY) {
        st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: the prefix is longer than S3's %d-byte keys",
                            S3_MAX_KEY);
        goto fail;
    }
    for (const char *a = q ? q + 1 : NULL; a && *a;) {
        size_t alen = strcspn(a, "&");
        const char *eq = memchr(a, '=', alen);
        if (alen == 0) {
            a++;
            continue;
        }
        if (!eq) {
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: parameter '%.*s' has no '=value'",
                                (int)alen, a);
            goto fail;
        }
        char *k = vdb_s3_pct_decode(a, (size_t)(eq - a));
        char *v = vdb_s3_pct_decode(eq + 1, alen - (size_t)(eq - a) - 1);
        if (!k || !v) {
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: bad %%-escape in parameter '%.*s'",
                                (int)(eq - a), a);
            free(k);
            free(v);
            goto fail;
        }
        st = apply_param(cfg, k, v, &set_threshold, &set_path_style);
        free(k);
        if (st != VDB_OK)
            goto fail;
        a += alen;
        if (*a == '&')
            a++;
    }
    if (!cfg->region)
        cfg->region = env_dup("AWS_REGION");
    if (!cfg->region)
        cfg->region = env_dup("AWS_DEFAULT_REGION");
    if (!cfg->region)
        cfg->region = strdup("us-east-1");
    if (!cfg->region)
        goto oom;
    for (const char *r = cfg->region; *r; r++)
        if (!isalnum((unsigned char)*r) && *r != '-') {
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: region '%s' is not a region name",
                                cfg->region);
            goto fail;
        }
    if (!cfg->endpoint) {
        size_t n = strlen(cfg->region) + 32;
        cfg->endpoint = malloc(n);
        if (!cfg->endpoint)
            goto oom;
        snprintf(cfg->endpoint, n, "https://s3.%s.amazonaws.com", cfg->region);
        /* virtual-hosted addressing, unless a dot in the bucket would break the TLS name */
        if (!set_path_style)
            cfg->path_style = strchr(cfg->bucket, '.') != NULL;
    } else {
        if (strncmp(cfg->endpoint, "http://", 7) && strncmp(cfg->endpoint, "https://", 8)) {
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: endpoint '%s' is not http://... or "
                                "https://...", cfg->endpoint);
            goto fail;
        }
        size_t n = strlen(cfg->endpoint);
        while (n && cfg->endpoint[n - 1] == '/')
            cfg->endpoint[--n] = 0;
        if (strchr(cfg->endpoint, '?') || strchr(cfg->endpoint, '#') ||
            strchr(cfg->endpoint, ' ')) {
            st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: endpoint '%s' has a query, fragment or "
                                "space", cfg->endpoint);
            goto fail;
        }
        if (!set_path_style)
            cfg->path_style = true;
    }
    if (!set_threshold)
        cfg->multipart_threshold = cfg->part_size;
    /* credentials: the URI's, else the environment's (preferred: URIs end up in logs) */
    if (!cfg->access_key != !cfg->secret_key) {
        st = vdb_set_errmsg(VDB_EINVAL, "s3 URI: access_key and secret_key go together");
        goto fail;
    }
    if (!cfg->access_key && !cfg->anonymous) {
        cfg->access_key = env_dup("AWS_ACCESS_KEY_ID");
        cfg->secret_key = env_dup("AWS_SECRET_ACCESS_KEY");
        if (!cfg->session_token)
            cfg->session_token = env_dup("AWS_SESSION_TOKEN");
        if (!cfg->access_key || !cfg->secret_key) {
            st = vdb_set_errmsg(VDB_EINVAL, "s3://%s: no credentials: set AWS_ACCESS_KEY_ID "
                                "and AWS_SECRET_ACCESS_KEY (or access_key= and secret_key= in "
                                "the URI, or anonymous=1 for a public bucket)", cfg->bucket);
            goto fail;
        }
    }
    if (cfg->anonymous) {
        free(cfg->access_key);
        free(cfg->secret_key);
        free(cfg->session_token);
        cfg->access_key = cfg->secret_key = cfg->session_token = NULL;
    }
    if ((cfg->access_key && strchr(cfg->access_key, ':')) ||
        (cfg->session_token && strpbrk(cfg->session_token, "\r\n"))) {
        st = vdb_set_errmsg(VDB_EINVAL, "s3://%s: the access key has a ':' or the session "
                            "token a line break", cfg->bucket);
        goto fail;
    }
    return VDB_OK;
oom:
    st = vdb_set_errmsg(VDB_ENOMEM, "out of memory parsing an s3 URI");
fail:
    vdb_s3_config_free(cfg);
    return st;
}

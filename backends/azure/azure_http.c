/* azblob: one Azure Blob REST request over libcurl: Shared Key signing (the canonical
 * string Azure documents) or a SAS token, a deadline, retries with backoff, and the mapping of
 * Azure's errors to vdb statuses. Curl handles are pooled per store to keep connections. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "azure_internal.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc;

static void global_init(void) { g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

vdb_status az_http_init(void)
{
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return vdb_set_errmsg(VDB_EIO, "azblob: curl_global_init failed: %s",
                              curl_easy_strerror(g_init_rc));
    return VDB_OK;
}

static CURL *pool_get(az_store *s)
{
    CURL *c = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->npool > 0)
        c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->lock);
    return c ? c : curl_easy_init();
}

static void pool_put(az_store *s, CURL *c)
{
    pthread_mutex_lock(&s->lock);
    if (s->npool < AZ_POOL_MAX) {
        s->pool[s->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (c)
        curl_easy_cleanup(c);
}

void az_pool_free(az_store *s)
{
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    s->npool = 0;
}

void az_resp_free(az_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* ---- a growable string ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- Shared Key ---- */

typedef struct qparam {
    char *name, *value;
} qparam;

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const qparam *)a)->name, ((const qparam *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The Authorization header's value for req sent at date: "SharedKey account:signature". The
 * string to sign is VERB, the eleven standard headers (Content-Length empty when 0, Date empty
 * because x-ms-date is sent), the x-ms-* headers sorted by name, then "/account" + the URL's
 * path and the query parameters sorted by name, one "name:decoded value" a line. */
static char *shared_key_auth(const az_store *s, const az_req *req, const char *date)
{
    sbuf b = {0};
    char range[64] = "";
    if (req->range_len)
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)req->range_off,
                 (unsigned long long)(req->range_off + req->range_len - 1));
    sb_str(&b, req->method);
    sb_str(&b, "\n\n\n"); /* Content-Encoding, Content-Language */
    if (req->body_len)
        sb_fmt(&b, "%zu", req->body_len);
    sb_str(&b, "\n\n\n\n\n\n\n\n"); /* Content-MD5, Content-Type, Date, If-* (4) */
    sb_str(&b, range);
    sb_str(&b, "\n");

    /* canonicalized headers: names are lower case already; values trimmed */
    char *hdrs[8];
    int nh = 0;
    char dh[64], vh[64];
    snprintf(dh, sizeof dh, "x-ms-date:%s", date);
    snprintf(vh, sizeof vh, "x-ms-version:%s", AZ_API_VERSION);
    hdrs[nh++] = dh;
    hdrs[nh++] = vh;
    char xbuf[4][256];
    for (int i = 0; i < req->nxms && i < 4; i++) {
        const char *h = req->xms[i], *colon = strchr(h, ':');
        if (!colon)
            continue;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        snprintf(xbuf[i], sizeof xbuf[i], "%.*s:%s", (int)(colon - h), h, v);
        hdrs[nh++] = xbuf[i];
    }
    qsort(hdrs, (size_t)nh, sizeof hdrs[0], cmp_str);
    for (int i = 0; i < nh; i++) {
        sb_str(&b, hdrs[i]);
        sb_str(&b, "\n");
    }

    /* canonicalized resource */
    sb_fmt(&b, "/%s", s->account);
    sb_str(&b, s->base_path);
    sb_str(&b, req->path);
    if (req->query && *req->query) {
        char *q = strdup(req->query);
        qparam ps[16];
        size_t np = 0;
        if (!q) {
            free(b.p);
            return NULL;
        }
        for (char *save = NULL, *tok = strtok_r(q, "&", &save); tok && np < 16;
             tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = 0;
            for (char *c = tok; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            ps[np].name = tok;
            ps[np].value = eq ? eq + 1 : tok + strlen(tok);
            az_pct_decode(ps[np].value, 0);
            np++;
        }
        qsort(ps, np, sizeof ps[0], cmp_param);
        for (size_t i = 0; i < np; i++) {
            sb_str(&b, "\n");
            sb_str(&b, ps[i].name);
            sb_str(&b, ":");
            sb_str(&b, ps[i].value);
        }
        free(q);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    char sig[64];
    int rc = az_hmac_b64(s->key, s->key_len, b.p, b.n, sig);
    free(b.p);
    if (rc)
        return NULL;
    char *auth;
    if (asprintf(&auth, "Authorization: SharedKey %s:%s", s->account, sig) < 0)
        return NULL;
    return auth;
}

/* ---- curl callbacks ---- */

typedef struct xfer {
    const az_req *req;
    size_t sent;
    az_resp *resp;
    size_t cap;
    int oom;
} xfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t left = x->req->body_len - x->sent, n = size * nitems;
    if (n > left)
        n = left;
    memcpy(buf, (const char *)x->req->body + x->sent, n);
    x->sent += n;
    return n;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
    xfer *x = arg;
    if (origin != SEEK_SET || off < 0 || (size_t)off > x->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    x->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    az_resp *r = x->resp;
    size_t n = size * nmemb;
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p) {
            x->oom = 1;
            return 0;
        }
        r->body = p;
        x->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = 0;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    az_resp *r = x->resp;
    size_t n = size * nitems;
    char line[256];
    size_t l = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, data, l);
    line[l] = 0;
    while (l && (line[l - 1] == '\r' || line[l - 1] == '\n' || line[l - 1] == ' '))
        line[--l] = 0;
    if (!strncasecmp(line, "HTTP/", 5)) { /* a new response (after 100 Continue): reset */
        r->content_length = -1;
        r->code[0] = 0;
    } else if (!strncasecmp(line, "content-length:", 15)) {
        r->content_length = strtoll(line + 15, NULL, 10);
        /* size the body buffer once for large GETs */
        if (!x->req->no_body && r->content_length > 0 && !r->body &&
            (uint64_t)r->content_length < ((uint64_t)1 << 40)) {
            r->body = malloc((size_t)r->content_length + 1);
            if (r->body) {
                x->cap = (size_t)r->content_length + 1;
                r->body[0] = 0;
            }
        }
    } else if (!strncasecmp(line, "x-ms-error-code:", 16)) {
        const char *v = line + 16;
        while (*v == ' ')
            v++;
        snprintf(r->code, sizeof r->code, "%.90s", v);
    }
    return n;
}

/* ---- one request with retries ---- */

static int retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static CURLcode attempt(az_store *s, CURL *c, const az_req *req, az_resp *resp,
                        const char *url, int64_t budget_ms, char *errbuf, int *oom)
{
    char date[40], dh[64], vh[64], rh[80];
    az_http_date(date);
    snprintf(dh, sizeof dh, "x-ms-date: %s", date);
    snprintf(vh, sizeof vh, "x-ms-version: %s", AZ_API_VERSION);
    struct curl_slist *h = NULL, *t;
#define ADD(str)                                                                              \
    do {                                                                                      \
        if (!(t = curl_slist_append(h, (str)))) {                                             \
            *oom = 1;                                                                         \
            curl_slist_free_all(h);                                                           \
            return CURLE_OUT_OF_MEMORY;                                                       \
        }                                                                                     \
        h = t;                                                                                \
    } while (0)
    ADD(dh);
    ADD(vh);
    ADD("Expect:");       /* no 100-continue round trip */
    ADD("Content-Type:"); /* none is sent, so the signed one is empty */
    for (int i = 0; i < req->nxms; i++)
        ADD(req->xms[i]);
    if (req->range_len) {
        snprintf(rh, sizeof rh, "Range: bytes=%llu-%llu", (unsigned long long)req->range_off,
                 (unsigned long long)(req->range_off + req->range_len - 1));
        ADD(rh);
    }
    if (s->key_len) {
        char *auth = shared_key_auth(s, req, date);
        if (!auth) {
            *oom = 1;
            curl_slist_free_all(h);
            return CURLE_OUT_OF_MEMORY;
        }
        t = curl_slist_append(h, auth);
        free(auth);
        if (!t) {
            *oom = 1;
            curl_slist_free_all(h);
            return CURLE_OUT_OF_MEMORY;
        }
        h = t;
    }
#undef ADD
    az_resp_free(resp);
    resp->status = 0;
    resp->content_length = -1;
    resp->code[0] = 0;
    xfer x = {.req = req, .resp = resp};

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)budget_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)budget_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    if (!strcmp(req->method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (x.oom)
        *oom = 1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    return rc;
}

/* Azure's error code from the XML body when no x-ms-error-code header came. */
static void code_from_body(az_resp *r)
{
    const char *st;
    size_t n;
    if (r->code[0] || !r->body || !az_xml_find(r->body, r->body + r->len, "Code", &st, &n,
                                               NULL, NULL))
        return;
    snprintf(r->code, sizeof r->code, "%.*s", (int)(n < 90 ? n : 90), st);
}

vdb_status az_http(az_store *s, const az_req *req, az_resp *resp, const char *what)
{
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    sbuf url = {0};
    sb_str(&url, s->endpoint);
    sb_str(&url, req->path);
    char sep = '?';
    if (req->query && *req->query) {
        sb_str(&url, "?");
        sb_str(&url, req->query);
        sep = '&';
    }
    if (s->sas) {
        sb_add(&url, &sep, 1);
        sb_str(&url, s->sas);
    }
    if (url.oom) {
        free(url.p);
        return vdb_set_errmsg(VDB_ENOMEM, "azblob %s: out of memory", what);
    }
    CURL *c = pool_get(s);
    if (!c) {
        free(url.p);
        return vdb_set_errmsg(VDB_ENOMEM, "azblob %s: curl_easy_init failed", what);
    }
    const int64_t start = now_ms(), deadline = start + s->timeout_ms;
    int64_t backoff = 50;
    int tries = 0;
    char errbuf[CURL_ERROR_SIZE];
    vdb_status st = VDB_OK;
    for (;;) {
        int oom = 0;
        int64_t left = deadline - now_ms();
        if (left < 1)
            left = 1;
        CURLcode rc = attempt(s, c, req, resp, url.p, left, errbuf, &oom);
        tries++;
        if (oom) {
            st = vdb_set_errmsg(VDB_ENOMEM, "azblob %s %s: out of memory", req->method, what);
            break;
        }
        int retry;
        if (rc == CURLE_OK) {
            retry = resp->status >= 500 || resp->status == 429 || resp->status == 408;
        } else {
            retry = retryable_curl(rc);
        }
        int64_t now = now_ms();
        if (retry && now + backoff < deadline) {
            sleep_ms(backoff);
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
            continue;
        }
        if (rc != CURLE_OK) {
            st = vdb_set_errmsg(VDB_EIO, "azblob %s %s at %s: %s%s%s (%d tr%s in %lld ms)",
                                req->method, what, s->endpoint, curl_easy_strerror(rc),
                                errbuf[0] ? ": " : "", errbuf, tries, tries == 1 ? "y" : "ies",
                                (long long)(now - start));
            az_resp_free(resp);
            resp->status = 0;
        }
        break;
    }
    if (st == VDB_OK)
        code_from_body(resp);
    pool_put(s, c);
    free(url.p);
    return st;
}

vdb_status az_fail(const az_store *s, const az_resp *r, const char *op, const char *what)
{
    const char *code = r->code[0] ? r->code : "no error code";
    switch (r->status) {
    case 403:
        /* Azure says AuthenticationFailed for a bad signature; Azurite (and Azure's network
         * rules) say AuthorizationFailure. With Shared Key both mean the key is wrong. */
        if (s->key_len || !strcmp(r->code, "AuthenticationFailed"))
            return vdb_set_errmsg(VDB_EIO, "azblob %s %s: authentication failed for account "
                                  "'%s' at %s (HTTP 403 %s): check the %s", op, what,
                                  s->account, s->endpoint, code,
                                  s->key_len ? "account key (and the account's network rules)"
                                             : "SAS token");
        return vdb_set_errmsg(VDB_EIO, "azblob %s %s: not authorized for account '%s' at %s "
                              "(HTTP 403 %s): the SAS token lacks this permission, has expired "
                              "or does not cover this resource", op, what, s->account,
                              s->endpoint, code);
    case 404:
        return vdb_set_errmsg(VDB_ENOTFOUND, "azblob %s %s: not found (HTTP 404 %s)", op, what,
                              code);
    case 409:
    case 412:
        return vdb_set_errmsg(VDB_ECONFLICT, "azblob %s %s: conflict (HTTP %ld %s)", op, what,
                              r->status, code);
    case 400:
        return vdb_set_errmsg(VDB_EINVAL, "azblob %s %s at %s: bad request (HTTP 400 %s)", op,
                              what, s->endpoint, code);
    default:
        return vdb_set_errmsg(VDB_EIO, "azblob %s %s at %s: HTTP %ld %s", op, what, s->endpoint,
                              r->status, code);
    }
}

/* The S3 backend's request layer: a pool of libcurl easy handles sharing one connection, DNS
 * and TLS-session cache, SigV4 signing by libcurl (CURLOPT_AWS_SIGV4) with the payload hash
 * we compute, one deadline per request, and retries with exponential backoff. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "s3.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000
#define CONNECT_TIMEOUT_MS 3000 /* a connect that takes longer is retried, deadline allowing */

struct s3_store {
    s3_config cfg;
    char sigv4[96];
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu;
    CURL **pool; /* idle handles: each keeps its settings' allocations warm */
    size_t pool_n, pool_cap;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    struct s3_store *s = arg;
    pthread_mutex_lock(&s->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    struct s3_store *s = arg;
    pthread_mutex_unlock(&s->share_mu[data]);
}

const s3_config *vdb_s3_store_config(const s3_store *s)
{
    return &s->cfg;
}

vdb_status vdb_s3_store_new(const char *uri, const vdb_backend_options *opt, s3_store **out)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return vdb_set_errmsg(VDB_EIO, "s3: curl_global_init: %s",
                              curl_easy_strerror(global_rc));
    s3_store *s = calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory opening an s3 store");
    vdb_status st = vdb_s3_config_parse(uri, opt, &s->cfg);
    if (st != VDB_OK) {
        free(s);
        return st;
    }
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", s->cfg.region);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->share_mu[i], NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    s->share = curl_share_init();
    if (!s->share) {
        vdb_s3_store_free(s);
        return vdb_set_errmsg(VDB_ENOMEM, "s3: curl_share_init failed");
    }
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    *out = s;
    return VDB_OK;
}

void vdb_s3_store_free(s3_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->pool_n; i++)
        curl_easy_cleanup(s->pool[i]);
    free(s->pool);
    if (s->share)
        curl_share_cleanup(s->share);
    pthread_mutex_destroy(&s->pool_mu);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->share_mu[i]);
    vdb_s3_config_free(&s->cfg);
    free(s);
}

static CURL *pool_take(s3_store *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n)
        h = s->pool[--s->pool_n];
    pthread_mutex_unlock(&s->pool_mu);
    return h ? h : curl_easy_init();
}

static void pool_give(s3_store *s, CURL *h)
{
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n == s->pool_cap) {
        size_t cap = s->pool_cap ? 2 * s->pool_cap : 8;
        CURL **p = realloc(s->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&s->pool_mu);
            curl_easy_cleanup(h);
            return;
        }
        s->pool = p;
        s->pool_cap = cap;
    }
    s->pool[s->pool_n++] = h;
    pthread_mutex_unlock(&s->pool_mu);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- one transfer ---- */

typedef struct xfer {
    s3_response *rs;
    const char *body;
    size_t body_len, sent;
    bool oom;
} xfer;

static bool buf_reserve(s3_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - 1 - b->len)
        return false;
    size_t need = b->len + extra + 1; /* room for the NUL callers get past the end */
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    s3_buf *b = &x->rs->body;
    size_t len = size * n;
    if (!buf_reserve(b, len)) {
        x->oom = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = 0;
    return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n, left = x->body_len - x->sent;
    if (len > left)
        len = left;
    if (len)
        memcpy(dst, x->body + x->sent, len);
    x->sent += len;
    return len;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
    xfer *x = arg;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    static const char etag[] = "etag:";
    if (len > sizeof etag - 1 && !strncasecmp(data, etag, sizeof etag - 1)) {
        const char *v = data + sizeof etag - 1;
        size_t vl = len - (sizeof etag - 1);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof x->rs->etag) {
            memcpy(x->rs->etag, v, vl);
            x->rs->etag[vl] = 0;
        }
    }
    return len;
}

/* The S3 error code and message of an XML error body; else a name for the status. */
static void parse_error(s3_response *rs)
{
    rs->code[0] = rs->msg[0] = 0;
    if (rs->body.len && memmem(rs->body.p, rs->body.len, "<Error>", 7)) {
        char *code = vdb_s3_xml_text(rs->body.p, rs->body.len, "Code", NULL);
        char *msg = vdb_s3_xml_text(rs->body.p, rs->body.len, "Message", NULL);
        snprintf(rs->code, sizeof rs->code, "%s", code ? code : "");
        snprintf(rs->msg, sizeof rs->msg, "%s", msg ? msg : "");
        free(code);
        free(msg);
    }
    if (!rs->code[0] && rs->status >= 300) {
        const char *name = rs->status == 404   ? "NotFound"
                           : rs->status == 403 ? "Forbidden"
                           : rs->status == 400 ? "BadRequest"
                           : rs->status == 416 ? "InvalidRange"
                           : rs->status == 503 ? "ServiceUnavailable"
                           : rs->status >= 500 ? "InternalError"
                                               : "";
        snprintf(rs->code, sizeof rs->code, "%s", name);
    }
}

static bool curl_transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
        return false;
    default:
        return true;
    }
}

static bool status_transient(const s3_response *rs)
{
    return rs->status >= 500 || rs->status == 429 ||
           (rs->status == 400 && !strcmp(rs->code, "RequestTimeout"));
}

/* The request's URL: path-style endpoint/bucket/key or virtual-hosted bucket.host/key. */
static char *make_url(const s3_store *s, const s3_request *rq)
{
    const s3_config *c = &s->cfg;
    char *ekey = vdb_s3_uri_encode(rq->key ? rq->key : "", true);
    if (!ekey)
        return NULL;
    size_t n = strlen(c->endpoint) + strlen(c->bucket) + strlen(ekey) +
               (rq->query ? strlen(rq->query) : 0) + 8;
    char *url = malloc(n);
    if (url) {
        const char *q = rq->query ? "?" : "", *qs = rq->query ? rq->query : "";
        if (c->path_style) {
            snprintf(url, n, "%s/%s/%s%s%s", c->endpoint, c->bucket, ekey, q, qs);
        } else {
            const char *host = strstr(c->endpoint, "://") + 3;
            snprintf(url, n, "%.*s%s.%s/%s%s%s", (int)(host - c->endpoint), c->endpoint,
                     c->bucket, host, ekey, q, qs);
        }
    }
    free(ekey);
    return url;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap); /* session tokens run to kilobytes */
    va_end(ap);
    if (n < 0) {
        *ok = false;
        return l;
    }
    struct curl_slist *r = curl_slist_append(l, line);
    free(line);
    if (!r)
        *ok = false;
    return r ? r : l;
}

void vdb_s3_response_free(s3_response *rs)
{
    free(rs->body.p);
    memset(rs, 0, sizeof *rs);
}

static const char *display_key(const s3_request *rq)
{
    return rq->key ? rq->key : "";
}

vdb_status vdb_s3_perform(s3_store *s, const s3_request *rq, s3_response *rs, const char *what)
{
    const s3_config *c = &s->cfg;
    memset(rs, 0, sizeof *rs);
    char hash[65];
    if (c->unsigned_payload && rq->body)
        snprintf(hash, sizeof hash, "UNSIGNED-PAYLOAD");
    else
        vdb_s3_sha256_hex(rq->body, rq->body ? rq->body_len : 0, hash);
    bool ok = true;
    struct curl_slist *hdr = NULL;
    hdr = add_header(hdr, &ok, "x-amz-content-sha256: %s", hash);
    if (c->session_token)
        hdr = add_header(hdr, &ok, "x-amz-security-token: %s", c->session_token);
    if (rq->range)
        hdr = add_header(hdr, &ok, "Range: %s", rq->range);
    /* Every header in this list is signed, so none may be a removal ("Expect:") that is
     * then not sent: S3 would compute another signature. */
    if (rq->body)
        hdr = add_header(hdr, &ok, "Content-Type: %s",
                         rq->content_type ? rq->content_type : "application/octet-stream");
    char *url = make_url(s, rq);
    CURL *h = pool_take(s);
    if (!ok || !url || !h) {
        curl_slist_free_all(hdr);
        free(url);
        if (h)
            curl_easy_cleanup(h);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory preparing s3 %s of '%s'", what,
                              display_key(rq));
    }
    uint64_t deadline = now_ms() + c->timeout_ms;
    int max_tries = rq->retry ? c->max_tries : 1;
    char errbuf[CURL_ERROR_SIZE];
    CURLcode rc = CURLE_OK;
    xfer x = {.rs = rs, .body = rq->body, .body_len = rq->body ? rq->body_len : 0};
    unsigned int seed = (unsigned int)(uintptr_t)&x ^ (unsigned int)deadline;
    for (int attempt = 1;; attempt++) {
        rs->tries = attempt;
        rs->body.len = 0;
        rs->status = 0;
        rs->etag[0] = 0;
        x.sent = 0;
        x.oom = false;
        errbuf[0] = 0;
        uint64_t now = now_ms();
        uint64_t left = deadline > now ? deadline - now : 1;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_SHARE, s->share);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys are not paths: keep "./" */
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(left < CONNECT_TIMEOUT_MS ? left : CONNECT_TIMEOUT_MS));
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        if (c->access_key) {
            curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
            curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
            curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
        }
        if (!strcmp(rq->method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (rq->body) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &x);
            curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
            curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
            if (strcmp(rq->method, "PUT"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        } else if (strcmp(rq->method, "GET")) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        }
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
            curl_off_t cl = -1;
            curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            rs->has_length = cl >= 0;
            rs->length = cl >= 0 ? (uint64_t)cl : 0;
            parse_error(rs);
        }
        bool transient = rc != CURLE_OK ? curl_transient(rc) && !x.oom : status_transient(rs);
        if (!transient || attempt >= max_tries)
            break;
        /* exponential backoff with jitter, never past the deadline */
        uint64_t back = (uint64_t)BACKOFF_FIRST_MS << (attempt - 1);
        if (back > BACKOFF_MAX_MS)
            back = BACKOFF_MAX_MS;
        back = back / 2 + (uint64_t)rand_r(&seed) % (back / 2 + 1);
        now = now_ms();
        if (now + back >= deadline)
            break;
        sleep_ms(back);
    }
    pool_give(s, h);
    curl_slist_free_all(hdr);
    vdb_status st = VDB_OK;
    if (rq->quiet) {
        st = x.oom ? VDB_ENOMEM : rc != CURLE_OK || status_transient(rs) ? VDB_EIO : VDB_OK;
    } else if (x.oom) {
        st = vdb_set_errmsg(VDB_ENOMEM, "s3 %s '%s' (bucket %s at %s): out of memory for the "
                            "answer", what, display_key(rq), c->bucket, c->endpoint);
    } else if (rc != CURLE_OK) {
        st = vdb_set_errmsg(VDB_EIO, "s3 %s '%s' (bucket %s at %s): %s%s%s (after %d "
                            "tr%s in %u ms)", what, display_key(rq), c->bucket, c->endpoint,
                            curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf, rs->tries,
                            rs->tries == 1 ? "y" : "ies",
                            (unsigned)(now_ms() + c->timeout_ms - deadline));
    } else if (status_transient(rs) && rq->retry) {
        st = vdb_s3_http_error(s, VDB_EIO, rq, rs, what);
    }
    free(url);
    return st;
}

vdb_status vdb_s3_http_error(s3_store *s, vdb_status st, const s3_request *rq,
                             const s3_response *rs, const char *what)
{
    const s3_config *c = &s->cfg;
    char tries[48] = "";
    if (rs->tries > 1)
        snprintf(tries, sizeof tries, " (after %d tries)", rs->tries);
    return vdb_set_errmsg(st, "s3 %s '%s' (bucket %s at %s): HTTP %ld%s%s%s%s%s", what,
                          display_key(rq), c->bucket, c->endpoint, rs->status,
                          rs->code[0] ? " " : "", rs->code, rs->msg[0] ? ": " : "", rs->msg,
                          tries);
}

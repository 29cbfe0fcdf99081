/* The transport: POST JSON to etcd's v3 gateway with libcurl, a small pool of handles for
 * connection reuse, bounded retries within the timeout, gateway errors mapped to statuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd_internal.h"

/* ---- request buffer ---- */

void ebuf_free(ebuf *b)
{
    free(b->p);
    *b = (ebuf){0};
}

static bool ebuf_reserve(ebuf *b, size_t n);

void ebuf_put(ebuf *b, const void *s, size_t n)
{
    if (!ebuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ebuf_str(ebuf *b, const char *s) { ebuf_put(b, s, strlen(s)); }

void ebuf_i64(ebuf *b, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "\"%" PRId64 "\"", v); /* int64 is a string in JSON */
    ebuf_put(b, tmp, (size_t)n);
}

/* Room for n more bytes (and the NUL); false on no memory. */
static bool ebuf_reserve(ebuf *b, size_t n)
{
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

/* The base64 of the concatenation a+c as a JSON string (base64 needs no escaping). The join
 * is encoded in 3-byte groups so that no copy of a+c is made. */
static void ebuf_b64_2(ebuf *b, const uint8_t *a, size_t an, const uint8_t *c, size_t cn)
{
    size_t n = an + cn;
    if (!ebuf_reserve(b, etcd_b64_len(n) + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    size_t head = an - an % 3; /* whole groups of a, then a group bridging a and c */
    etcd_b64_encode(o, a, head);
    o += etcd_b64_len(head);
    uint8_t bridge[3];
    size_t k = 0, ci = 0;
    for (size_t i = head; i < an; i++)
        bridge[k++] = a[i];
    while (k && k < 3 && ci < cn)
        bridge[k++] = c[ci++];
    if (k) {
        etcd_b64_encode(o, bridge, k);
        o += etcd_b64_len(k);
    }
    etcd_b64_encode(o, c ? c + ci : c, cn - ci);
    o += etcd_b64_len(cn - ci);
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

void ebuf_key(ebuf *b, const etcd *e, const char *key, size_t n)
{
    ebuf_b64_2(b, (const uint8_t *)e->prefix, e->plen, (const uint8_t *)key, n);
}

void ebuf_b64(ebuf *b, const void *data, size_t n) { ebuf_b64_2(b, NULL, 0, data, n); }

/* ---- JSON helpers ---- */

int64_t etcd_json_i64(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_true(v))
        return 1;
    return 0;
}

vdb_status etcd_json_bytes(const etcd *e, json_t *obj, const char *name, uint8_t **out,
                           size_t *n)
{
    json_t *v = json_object_get(obj, name);
    const char *s = "";
    size_t len = 0;
    if (v) {
        if (!json_is_string(v))
            return vdb_set_errmsg(VDB_ECORRUPT, "%s: response field %s is not a string",
                                  e->where, name);
        s = json_string_value(v);
        len = json_string_length(v);
    }
    bool oom;
    if (!etcd_b64_decode(s, len, out, n, &oom))
        return oom ? vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory decoding a response",
                                    e->where)
                   : vdb_set_errmsg(VDB_ECORRUPT, "%s: response field %s is not base64",
                                    e->where, name);
    return VDB_OK;
}

vdb_status etcd_check_key(const char *key)
{
    if (!key || !*key)
        return vdb_set_errmsg(VDB_EINVAL, "meta key is empty");
    size_t n = strlen(key);
    if (n > ETCD_MAX_KEY)
        return vdb_set_errmsg(VDB_EINVAL, "meta key of %zu bytes exceeds %u bytes", n,
                              ETCD_MAX_KEY);
    return VDB_OK;
}

/* ---- curl handles ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void etcd_global_init(void) { pthread_once(&global_once, global_init_once); }

CURL *etcd_handle_new(void)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* a loopback etcd is never behind a proxy */
    return h;
}

CURL *etcd_handle_get(etcd *e)
{
    CURL *h = NULL;
    pthread_mutex_lock(&e->mu);
    if (e->nidle)
        h = e->idle[--e->nidle];
    pthread_mutex_unlock(&e->mu);
    return h ? h : etcd_handle_new();
}

void etcd_handle_put(etcd *e, CURL *h)
{
    pthread_mutex_lock(&e->mu);
    if (e->nidle < ETCD_POOL_MAX) {
        e->idle[e->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- one call ---- */

typedef struct resp {
    char *p;
    size_t len, cap;
    bool oom;
} resp;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *p = realloc(r->p, cap);
        if (!p) {
            r->oom = true;
            return 0;
        }
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->len, ptr, n);
    r->len += n;
    r->p[r->len] = 0;
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

struct curl_slist *etcd_headers(void)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before bodies over 1 KiB */
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!h2)
        curl_slist_free_all(h);
    return h2;
}

/* True when curl failed before any byte of the request could have reached the server. */
static bool never_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* gRPC status codes the gateway puts in "code". */
enum { GRPC_INVALID_ARGUMENT = 3, GRPC_DEADLINE_EXCEEDED = 4, GRPC_NOT_FOUND = 5,
       GRPC_FAILED_PRECONDITION = 9, GRPC_OUT_OF_RANGE = 11, GRPC_UNAVAILABLE = 14 };

vdb_status etcd_call(etcd *e, const char *path, const ebuf *body, etcd_retry retry,
                     json_t **out)
{
    *out = NULL;
    if (body->oom)
        return vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory building a request", e->where);
    char url[512];
    snprintf(url, sizeof url, "%s%s", e->base, path);
    int64_t deadline = now_ms() + e->timeout_ms;
    int64_t backoff = 25;
    int attempts = 0;
    struct curl_slist *hdrs = etcd_headers();
    if (!hdrs)
        return vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory", e->where);
    vdb_status st;
    for (;;) {
        attempts++;
        int64_t left = deadline - now_ms();
        if (left < 1)
            left = 1;
        CURL *h = etcd_handle_get(e);
        if (!h) {
            st = vdb_set_errmsg(VDB_ENOMEM, "%s: cannot create a curl handle", e->where);
            break;
        }
        resp r = {0};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p ? body->p : "{}");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body->p ? body->len : 2));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
        /* libcurl resends a request whose reused connection turns out dead before any answer;
         * a txn that the server may have applied must not be sent twice, so it goes on a
         * connection of its own. */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, retry == ETCD_RETRY_ONCE ? 1L : 0L);
        CURLcode rc = curl_easy_perform(h);
        long http = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        etcd_handle_put(e, h);

        bool transient = false;
        if (rc != CURLE_OK) {
            const char *why = *errbuf ? errbuf : curl_easy_strerror(rc);
            if (r.oom)
                st = vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory reading a response",
                                    e->where);
            else if (never_sent(rc) || retry == ETCD_RETRY_SAFE) {
                transient = true;
                st = vdb_set_errmsg(VDB_EIO, "%s: %s (%d attempt%s in %" PRId64 " ms)",
                                    e->where, why, attempts, attempts > 1 ? "s" : "",
                                    e->timeout_ms - (deadline - now_ms()));
            } else {
                st = vdb_set_errmsg(VDB_EIO, "%s: %s: %s; the outcome is unknown (the "
                                    "request may or may not have been applied)",
                                    e->where, path, why);
            }
            free(r.p);
        } else {
            json_error_t jerr;
            json_t *j = json_loadb(r.p ? r.p : "", r.len, 0, &jerr);
            free(r.p);
            if (!j || !json_is_object(j)) {
                json_decref(j);
                st = vdb_set_errmsg(VDB_EIO, "%s: %s: HTTP %ld with a response that is not "
                                    "a JSON object (%s)", e->where, path, http,
                                    j ? "another JSON value" : jerr.text);
                if (http >= 500 && retry == ETCD_RETRY_SAFE)
                    transient = true;
            } else if (http == 200 && !json_object_get(j, "error")) {
                *out = j;
                st = VDB_OK;
            } else {
                json_t *m = json_object_get(j, "message");
                if (!json_is_string(m))
                    m = json_object_get(j, "error");
                char msg[512];
                snprintf(msg, sizeof msg, "%s", json_is_string(m) ? json_string_value(m)
                                                                   : "(no message)");
                int64_t code = etcd_json_i64(j, "code");
                json_decref(j);
                switch (code) {
                case GRPC_INVALID_ARGUMENT:
                case GRPC_FAILED_PRECONDITION:
                    st = vdb_set_errmsg(VDB_EINVAL, "%s: %s: %s", e->where, path, msg);
                    break;
                case GRPC_NOT_FOUND:
                    st = vdb_set_errmsg(VDB_ENOTFOUND, "%s: %s: %s", e->where, path, msg);
                    break;
                case GRPC_OUT_OF_RANGE:
                    st = vdb_set_errmsg(VDB_ERANGE, "%s: %s: %s", e->where, path, msg);
                    break;
                case GRPC_UNAVAILABLE:
                case GRPC_DEADLINE_EXCEEDED:
                    /* No leader, leader changed, or the server timed out: for a write the
                     * proposal may still commit. */
                    if (retry == ETCD_RETRY_SAFE) {
                        transient = true;
                        st = vdb_set_errmsg(VDB_EIO, "%s: %s: %s (%d attempts)", e->where,
                                            path, msg, attempts);
                    } else {
                        st = vdb_set_errmsg(VDB_EIO, "%s: %s: %s; the outcome is unknown "
                                            "(the request may or may not have been applied)",
                                            e->where, path, msg);
                    }
                    break;
                default:
                    st = vdb_set_errmsg(VDB_EIO, "%s: %s: HTTP %ld: %s (gRPC code %" PRId64
                                        ")", e->where, path, http, msg, code);
                }
            }
        }
        if (!transient)
            break;
        /* a try with almost no time left fails for that reason alone ("resolve timed out
         * after 1 ms") and hides the real cause: keep the last error instead */
        int64_t rest = deadline - now_ms();
        if (rest <= 100)
            break;
        sleep_ms(backoff < rest - 100 ? backoff : rest - 100); /* the last try gets >= 100 ms */
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
    curl_slist_free_all(hdrs);
    return st;
}

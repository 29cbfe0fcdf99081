/* Leases (grant, keepalive, revoke), the current revision, and watch over the gateway's
 * streaming /v3/watch: the pieces cluster roles need for liveness and change notices. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

/* ---- leases ---- */

vdb_status vdb_etcd_lease_grant(void *meta, int64_t ttl_s, int64_t *id)
{
    etcd *e = meta;
    if (!e || !id || ttl_s <= 0)
        return vdb_set_errmsg(VDB_EINVAL, "etcd lease grant: bad argument (ttl %" PRId64 ")",
                              ttl_s);
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"TTL\":");
    ebuf_i64(&b, ttl_s);
    ebuf_str(&b, "}");
    /* A grant whose answer was lost leaves an unused lease that expires by itself: safe to
     * retry. */
    vdb_status st = etcd_call(e, "/v3/lease/grant", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    if (st != VDB_OK)
        return st;
    *id = etcd_json_i64(r, "ID");
    json_t *err = json_object_get(r, "error");
    if (json_is_string(err) && *json_string_value(err))
        st = vdb_set_errmsg(VDB_EIO, "%s: lease grant: %s", e->where, json_string_value(err));
    else if (!*id)
        st = vdb_set_errmsg(VDB_EIO, "%s: lease grant: no lease id in the answer", e->where);
    json_decref(r);
    return st;
}

vdb_status vdb_etcd_lease_keepalive(void *meta, int64_t id, int64_t *ttl_left)
{
    etcd *e = meta;
    if (!e || !id)
        return vdb_set_errmsg(VDB_EINVAL, "etcd lease keepalive: lease id is 0");
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"ID\":");
    ebuf_i64(&b, id);
    ebuf_str(&b, "}");
    /* The gateway maps the bidirectional stream to one request and one streamed answer. */
    vdb_status st = etcd_call(e, "/v3/lease/keepalive", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    if (st != VDB_OK)
        return st;
    json_t *res = json_object_get(r, "result");
    if (!res) {
        json_t *m = json_object_get(json_object_get(r, "error"), "message");
        st = vdb_set_errmsg(VDB_EIO, "%s: lease keepalive: %s", e->where,
                            json_is_string(m) ? json_string_value(m) : "no result");
    } else {
        int64_t ttl = etcd_json_i64(res, "TTL");
        if (ttl <= 0)
            st = vdb_set_errmsg(VDB_ENOTFOUND, "%s: lease %" PRId64 " has expired or was "
                                "revoked", e->where, id);
        else if (ttl_left)
            *ttl_left = ttl;
    }
    json_decref(r);
    return st;
}

vdb_status vdb_etcd_lease_revoke(void *meta, int64_t id)
{
    etcd *e = meta;
    if (!e || !id)
        return vdb_set_errmsg(VDB_EINVAL, "etcd lease revoke: lease id is 0");
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"ID\":");
    ebuf_i64(&b, id);
    ebuf_str(&b, "}");
    vdb_status st = etcd_call(e, "/v3/lease/revoke", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    json_decref(r);
    /* Already gone (or a retry after the first attempt took effect): the goal holds. */
    return st == VDB_ENOTFOUND ? VDB_OK : st;
}

vdb_status vdb_etcd_revision(void *meta, int64_t *revision)
{
    etcd *e = meta;
    if (!e || !revision)
        return vdb_set_errmsg(VDB_EINVAL, "etcd revision: NULL argument");
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"key\":");
    ebuf_key(&b, e, "", 0);
    ebuf_str(&b, ",\"count_only\":true}");
    vdb_status st = etcd_call(e, "/v3/kv/range", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    if (st == VDB_OK)
        *revision = etcd_json_i64(json_object_get(r, "header"), "revision");
    json_decref(r);
    return st;
}

/* ---- watch ---- */

typedef struct watch {
    etcd *e;
    vdb_etcd_watch_fn fn;
    void *arg;
    const volatile int *stop;
    char *buf; /* bytes received and not yet parsed */
    size_t len, cap;
    bool created, user_stop;
    vdb_status st; /* an error found while parsing; the message is already set */
} watch;

/* Handles one streamed message; false stops the stream (w->st or w->user_stop says why). */
static bool watch_message(watch *w, json_t *msg)
{
    etcd *e = w->e;
    json_t *res = json_object_get(msg, "result");
    if (!res) {
        json_t *err = json_object_get(msg, "error");
        json_t *m = json_object_get(err, "message");
        w->st = vdb_set_errmsg(VDB_EIO, "%s: watch: %s", e->where,
                               json_is_string(m) ? json_string_value(m) : "unexpected message");
        return false;
    }
    if (json_is_true(json_object_get(res, "created")))
        w->created = true;
    if (json_is_true(json_object_get(res, "canceled"))) {
        int64_t compact = etcd_json_i64(res, "compact_revision");
        json_t *why = json_object_get(res, "cancel_reason");
        if (compact)
            w->st = vdb_set_errmsg(VDB_ERANGE, "%s: watch: revisions before %" PRId64
                                   " were compacted", e->where, compact);
        else
            w->st = vdb_set_errmsg(VDB_EIO, "%s: watch canceled: %s", e->where,
                                   json_is_string(why) ? json_string_value(why) : "no reason");
        return false;
    }
    json_t *events = json_object_get(res, "events");
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *ev = json_array_get(events, i);
        json_t *kv = json_object_get(ev, "kv");
        json_t *type = json_object_get(ev, "type");
        vdb_meta_op_kind kind = json_is_string(type) && !strcmp(json_string_value(type),
                                                                 "DELETE")
                                    ? VDB_META_DELETE : VDB_META_PUT;
        uint8_t *k = NULL, *v = NULL;
        size_t kl = 0, vl = 0;
        vdb_status st = etcd_json_bytes(e, kv, "key", &k, &kl);
        if (st == VDB_OK && kind == VDB_META_PUT)
            st = etcd_json_bytes(e, kv, "value", &v, &vl);
        if (st == VDB_OK && (kl <= e->plen || memcmp(k, e->prefix, e->plen)))
            st = vdb_set_errmsg(VDB_ECORRUPT, "%s: watch: a key outside the prefix '%s'",
                                e->where, e->prefix);
        if (st != VDB_OK) {
            free(k);
            free(v);
            w->st = st;
            return false;
        }
        int stop = w->fn(w->arg, kind, (const char *)k + e->plen, kind == VDB_META_PUT ? v
                                                                                       : NULL,
                         vl, etcd_json_i64(kv, "mod_revision"));
        free(k);
        free(v);
        if (stop) {
            w->user_stop = true;
            return false;
        }
    }
    return true;
}

/* The stream is a sequence of JSON objects (newline-separated by the gateway); a read may end
 * in the middle of one, which waits for the next read. */
static size_t watch_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    watch *w = arg;
    size_t n = size * nmemb;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 8192;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *p = realloc(w->buf, cap);
        if (!p) {
            w->st = vdb_set_errmsg(VDB_ENOMEM, "%s: watch: out of memory", w->e->where);
            return 0;
        }
        w->buf = p;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, ptr, n);
    w->len += n;
    size_t off = 0;
    for (;;) {
        while (off < w->len && strchr(" \t\r\n", w->buf[off]))
            off++;
        if (off == w->len)
            break;
        json_error_t err;
        json_t *msg = json_loadb(w->buf + off, w->len - off, JSON_DISABLE_EOF_CHECK, &err);
        if (!msg) {
            if (json_error_code(&err) == json_error_premature_end_of_input)
                break; /* the rest comes with the next read */
            w->st = vdb_set_errmsg(VDB_EIO, "%s: watch: bad JSON in the stream: %s",
                                   w->e->where, err.text);
            return 0;
        }
        off += err.position;
        bool go_on = json_is_object(msg) && watch_message(w, msg);
        if (!json_is_object(msg))
            w->st = vdb_set_errmsg(VDB_EIO, "%s: watch: a message is not an object",
                                   w->e->where);
        json_decref(msg);
        if (!go_on)
            return 0; /* ends the transfer */
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
    return n;
}

static int watch_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                          curl_off_t un)
{
    watch *w = arg;
    return w->stop && __atomic_load_n(w->stop, __ATOMIC_ACQUIRE) ? 1 : 0;
}

vdb_status vdb_etcd_watch(void *meta, const char *prefix, int64_t start_revision,
                          vdb_etcd_watch_fn fn, void *arg, const volatile int *stop)
{
    etcd *e = meta;
    if (!e || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "etcd watch: NULL handle or callback");
    if (!prefix)
        prefix = "";
    ebuf b = {0};
    ebuf_str(&b, "{\"create_request\":{");
    etcd_range_of_prefix(&b, e, prefix, NULL, 0);
    if (start_revision > 0) {
        ebuf_str(&b, ",\"start_revision\":");
        ebuf_i64(&b, start_revision);
    }
    ebuf_str(&b, "}}");
    if (b.oom) {
        ebuf_free(&b);
        return vdb_set_errmsg(VDB_ENOMEM, "%s: out of memory", e->where);
    }
    CURL *h = etcd_handle_new();
    struct curl_slist *hdrs = etcd_headers();
    if (!h || !hdrs) {
        if (h)
            curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        ebuf_free(&b);
        return vdb_set_errmsg(VDB_ENOMEM, "%s: cannot create a curl handle", e->where);
    }
    watch w = {.e = e, .fn = fn, .arg = arg, .stop = stop, .st = VDB_OK};
    char url[512], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s/v3/watch", e->base);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, b.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    /* Connecting is bounded by the timeout; the stream itself lasts until stopped. A dead
     * peer is noticed by TCP keepalive (set on every handle). */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    CURLcode rc = curl_easy_perform(h);
    long http = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
    vdb_status st;
    bool stopped = stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE);
    if (w.user_stop || (stopped && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OK)))
        st = VDB_OK;
    else if (w.st != VDB_OK)
        st = w.st;
    else if (rc != CURLE_OK)
        st = vdb_set_errmsg(VDB_EIO, "%s: watch: %s", e->where,
                            *errbuf ? errbuf : curl_easy_strerror(rc));
    else if (http != 200)
        st = vdb_set_errmsg(VDB_EIO, "%s: watch: HTTP %ld: %.*s", e->where, http,
                            (int)(w.len < 200 ? w.len : 200), w.buf ? w.buf : "");
    else
        st = vdb_set_errmsg(VDB_EIO, "%s: watch: the server ended the stream", e->where);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    ebuf_free(&b);
    free(w.buf);
    return st;
}

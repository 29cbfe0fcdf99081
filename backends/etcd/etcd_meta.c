/* The etcd meta backend (etcd://host:port/prefix) over the v3 JSON gateway: get, put, delete,
 * paginated prefix scans and compare-and-swap transactions. Every key is stored under
 * "<prefix>/" so several databases can share one etcd. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define SCAN_PAGE 500 /* keys per range call; a scan continues after the last key */

/* ---- open / close ---- */

static void etcd_free(etcd *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->nidle; i++)
        curl_easy_cleanup(e->idle[i]);
    pthread_mutex_destroy(&e->mu);
    free(e->base);
    free(e->where);
    free(e->prefix);
    free(e);
}

static vdb_status etcd_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    *out = NULL;
    const char *rest = uri && !strncmp(uri, "etcd://", 7) ? uri + 7 : NULL;
    if (!rest || !*rest || *rest == '/')
        return vdb_set_errmsg(VDB_EINVAL, "meta URI %s is not etcd://host:port/prefix",
                              uri ? uri : "(null)");
    const char *slash = strchr(rest, '/');
    size_t hlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *p = slash ? slash + 1 : "";
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    if (memchr(rest, '?', hlen) || memchr(rest, '@', hlen) || hlen > 255 ||
        memchr(p, '?', plen))
        return vdb_set_errmsg(VDB_EINVAL, "meta URI %s: expected etcd://host:port/prefix "
                              "(no user, no query)", uri);
    /* host, [v6], host:port or [v6]:port; the port defaults to 2379 */
    const char *close_br = rest[0] == '[' ? memchr(rest, ']', hlen) : NULL;
    const char *colon = close_br ? (close_br + 1 < rest + hlen && close_br[1] == ':'
                                        ? close_br + 1 : NULL)
                                 : memchr(rest, ':', hlen);
    if (rest[0] == '[' && !close_br)
        return vdb_set_errmsg(VDB_EINVAL, "meta URI %s: unclosed [ in the host", uri);
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != rest + hlen || port < 1 || port > 65535)
            return vdb_set_errmsg(VDB_EINVAL, "meta URI %s: bad port", uri);
    }
    etcd *e = calloc(1, sizeof *e);
    if (!e)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    pthread_mutex_init(&e->mu, NULL);
    int ok = asprintf(&e->base, "http://%.*s%s", (int)hlen, rest, colon ? "" : ":2379") > 0 &&
             asprintf(&e->where, "etcd %.*s%s", (int)hlen, rest, colon ? "" : ":2379") > 0 &&
             asprintf(&e->prefix, "%.*s%s", (int)plen, p, plen ? "/" : "") >= 0;
    if (!ok) {
        etcd_free(e);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    e->plen = strlen(e->prefix);
    e->timeout_ms = opt && opt->timeout_ms ? (long)opt->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
    etcd_global_init();

    /* Fail now, with the reason, when etcd does not answer. */
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"key\":");
    ebuf_key(&b, e, "", 0);
    ebuf_str(&b, ",\"count_only\":true,\"limit\":\"1\"}");
    vdb_status st = etcd_call(e, "/v3/kv/range", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    json_decref(r);
    if (st != VDB_OK) {
        etcd_free(e);
        return st;
    }
    *out = e;
    return VDB_OK;
}

static void etcd_close(void *h) { etcd_free(h); }

/* ---- get / put / del ---- */

static vdb_status etcd_get(void *h, const char *key, void **val, size_t *len)
{
    etcd *e = h;
    vdb_status st = etcd_check_key(key);
    if (st != VDB_OK)
        return st;
    if (!val || !len)
        return vdb_set_errmsg(VDB_EINVAL, "meta get %s: NULL output", key);
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"key\":");
    ebuf_key(&b, e, key, strlen(key));
    ebuf_str(&b, "}");
    st = etcd_call(e, "/v3/kv/range", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    if (st != VDB_OK)
        return st;
    json_t *kv = json_array_get(json_object_get(r, "kvs"), 0);
    if (!kv)
        st = vdb_set_errmsg(VDB_ENOTFOUND, "%s: key %s not found", e->where, key);
    else
        st = etcd_json_bytes(e, kv, "value", (uint8_t **)val, len);
    json_decref(r);
    return st;
}

static vdb_status put_common(etcd *e, const char *key, const void *val, size_t len,
                             int64_t lease)
{
    vdb_status st = etcd_check_key(key);
    if (st != VDB_OK)
        return st;
    if (len && !val)
        return vdb_set_errmsg(VDB_EINVAL, "meta value for %s is NULL", key);
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"key\":");
    ebuf_key(&b, e, key, strlen(key));
    ebuf_str(&b, ",\"value\":");
    ebuf_b64(&b, val, len);
    if (lease) {
        ebuf_str(&b, ",\"lease\":");
        ebuf_i64(&b, lease);
    }
    ebuf_str(&b, "}");
    /* Writing the same value again is harmless, so a put is retried like a read. */
    st = etcd_call(e, "/v3/kv/put", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    json_decref(r);
    return st;
}

static vdb_status etcd_put(void *h, const char *key, const void *val, size_t len)
{
    return put_common(h, key, val, len, 0);
}

vdb_status vdb_etcd_put_lease(void *meta, const char *key, const void *val, size_t len,
                              int64_t lease)
{
    return put_common(meta, key, val, len, lease);
}

static vdb_status etcd_del(void *h, const char *key)
{
    etcd *e = h;
    vdb_status st = etcd_check_key(key);
    if (st != VDB_OK)
        return st;
    ebuf b = {0};
    json_t *r = NULL;
    ebuf_str(&b, "{\"key\":");
    ebuf_key(&b, e, key, strlen(key));
    ebuf_str(&b, "}");
    st = etcd_call(e, "/v3/kv/deleterange", &b, ETCD_RETRY_SAFE, &r);
    ebuf_free(&b);
    json_decref(r);
    return st;
}

/* ---- scan ---- */

void etcd_range_of_prefix(ebuf *b, const etcd *e, const char *prefix, const void *from,
                          size_t from_len)
{
    size_t n = strlen(prefix);
    size_t full = e->plen + n;
    char *k = malloc(full + 1);
    if (!k) {
        b->oom = true;
        return;
    }
    memcpy(k, e->prefix, e->plen);
    memcpy(k + e->plen, prefix, n);
    ebuf_str(b, "\"key\":");
    if (from)
        ebuf_b64(b, from, from_len);
    else if (!full)
        ebuf_b64(b, "", 1); /* from "\0": every key */
    else
        ebuf_b64(b, k, full);
    /* range_end: the prefix with its last byte below 0xff incremented and cut there; none
     * (all 0xff, or empty) means "to the end", which etcd spells "\0". */
    size_t m = full;
    while (m && (uint8_t)k[m - 1] == 0xff)
        m--;
    ebuf_str(b, ",\"range_end\":");
    if (!m) {
        ebuf_b64(b, "", 1);
    } else {
        k[m - 1] = (char)((uint8_t)k[m - 1] + 1);
        ebuf_b64(b, k, m);
    }
    free(k);
}

static vdb_status etcd_scan(void *h, const char *prefix, vdb_meta_scan_fn fn, void *arg)
{
    etcd *e = h;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "meta scan: callback is NULL");
    if (!prefix)
        prefix = "";
    vdb_status st = VDB_OK;
    uint8_t *after = NULL; /* the last full key seen; the next page starts just past it */
    size_t after_len = 0;
    int64_t rev = 0; /* every page reads at the first page's revision: one snapshot */
    bool more = true, stop = false;
    while (more && !stop) {
        ebuf b = {0};
        json_t *r = NULL;
        ebuf_str(&b, "{");
        /* the next page starts just past the last key: last + "\0" (decoded keys carry a
         * NUL past their length) */
        etcd_range_of_prefix(&b, e, prefix, after, after_len + 1);
        ebuf_str(&b, ",\"limit\":");
        ebuf_i64(&b, SCAN_PAGE);
        ebuf_str(&b, ",\"sort_order\":\"ASCEND\",\"sort_target\":\"KEY\"");
        if (rev) {
            ebuf_str(&b, ",\"revision\":");
            ebuf_i64(&b, rev);
        }
        ebuf_str(&b, "}");
        st = etcd_call(e, "/v3/kv/range", &b, ETCD_RETRY_SAFE, &r);
        ebuf_free(&b);
        if (st != VDB_OK)
            break;
        if (!rev)
            rev = etcd_json_i64(json_object_get(r, "header"), "revision");
        more = json_is_true(json_object_get(r, "more"));
        json_t *kvs = json_object_get(r, "kvs");
        size_t n = json_array_size(kvs);
        if (!n)
            more = false;
        for (size_t i = 0; i < n && !stop && st == VDB_OK; i++) {
            json_t *kv = json_array_get(kvs, i);
            uint8_t *k = NULL, *v = NULL;
            size_t kl = 0, vl = 0;
            st = etcd_json_bytes(e, kv, "key", &k, &kl);
            if (st == VDB_OK)
                st = etcd_json_bytes(e, kv, "value", &v, &vl);
            if (st == VDB_OK && (kl <= e->plen || memcmp(k, e->prefix, e->plen) ||
                                 memchr(k, 0, kl)))
                st = vdb_set_errmsg(VDB_ECORRUPT, "%s: a scan returned a key outside the "
                                    "prefix '%s' or with a NUL byte", e->where, e->prefix);
            if (st == VDB_OK) {
                free(after);
                after = k;
                after_len = kl;
                k = NULL;
                /* The callback may call back into the store: no lock or handle is held. */
                if (fn(arg, (const char *)after + e->plen, v, vl))
                    stop = true;
            }
            free(k);
            free(v);
        }
        json_decref(r);
        if (st != VDB_OK)
            break;
    }
    free(after);
    return st;
}

/* ---- txn ---- */

static vdb_status etcd_txn(void *h, const vdb_meta_op *ops, size_t n)
{
    etcd *e = h;
    if (n && !ops)
        return vdb_set_errmsg(VDB_EINVAL, "meta txn: ops is NULL");
    for (size_t i = 0; i < n; i++) {
        vdb_status st = etcd_check_key(ops[i].key);
        if (st != VDB_OK)
            return st;
        switch (ops[i].kind) {
        case VDB_META_PUT:
        case VDB_META_CHECK_VALUE:
            if (ops[i].len && !ops[i].val)
                return vdb_set_errmsg(VDB_EINVAL, "meta value for %s is NULL", ops[i].key);
            break;
        case VDB_META_DELETE:
        case VDB_META_CHECK_ABSENT:
            break;
        default:
            return vdb_set_errmsg(VDB_EINVAL, "meta txn: op %zu has unknown kind %d", i,
                                  (int)ops[i].kind);
        }
    }
    if (!n)
        return VDB_OK;

    ebuf b = {0};
    ebuf_str(&b, "{\"compare\":[");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const vdb_meta_op *o = &ops[i];
        if (o->kind != VDB_META_CHECK_VALUE && o->kind != VDB_META_CHECK_ABSENT)
            continue;
        ebuf_str(&b, first ? "{\"key\":" : ",{\"key\":");
        first = false;
        ebuf_key(&b, e, o->key, strlen(o->key));
        if (o->kind == VDB_META_CHECK_VALUE) {
            ebuf_str(&b, ",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":");
            ebuf_b64(&b, o->val, o->len);
            ebuf_str(&b, "}");
        } else {
            ebuf_str(&b, ",\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"0\"}");
        }
    }
    /* etcd refuses two writes to one key in a txn; applied in order, the last one wins, so
     * only that one is sent. */
    ebuf_str(&b, "],\"success\":[");
    first = true;
    for (size_t i = 0; i < n; i++) {
        const vdb_meta_op *o = &ops[i];
        if (o->kind != VDB_META_PUT && o->kind != VDB_META_DELETE)
            continue;
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = (ops[j].kind == VDB_META_PUT || ops[j].kind == VDB_META_DELETE) &&
                    !strcmp(ops[j].key, o->key);
        if (later)
            continue;
        ebuf_str(&b, first ? "{" : ",{");
        first = false;
        if (o->kind == VDB_META_PUT) {
            ebuf_str(&b, "\"request_put\":{\"key\":");
            ebuf_key(&b, e, o->key, strlen(o->key));
            ebuf_str(&b, ",\"value\":");
            ebuf_b64(&b, o->val, o->len);
        } else {
            ebuf_str(&b, "\"request_delete_range\":{\"key\":");
            ebuf_key(&b, e, o->key, strlen(o->key));
        }
        ebuf_str(&b, "}}");
    }
    /* On failure, read the checked keys back so the message can say which check failed. */
    ebuf_str(&b, "],\"failure\":[");
    first = true;
    for (size_t i = 0; i < n; i++) {
        const vdb_meta_op *o = &ops[i];
        if (o->kind != VDB_META_CHECK_VALUE && o->kind != VDB_META_CHECK_ABSENT)
            continue;
        ebuf_str(&b, first ? "{\"request_range\":{\"key\":" : ",{\"request_range\":{\"key\":");
        first = false;
        ebuf_key(&b, e, o->key, strlen(o->key));
        ebuf_str(&b, "}}");
    }
    ebuf_str(&b, "]}");

    json_t *r = NULL;
    /* Not idempotent: a txn is resent only when it surely never left; an answer lost after
     * sending is reported as an unknown outcome. */
    vdb_status st = etcd_call(e, "/v3/kv/txn", &b, ETCD_RETRY_ONCE, &r);
    ebuf_free(&b);
    if (st != VDB_OK)
        return st;
    if (json_is_true(json_object_get(r, "succeeded"))) {
        json_decref(r);
        return VDB_OK;
    }
    /* Name the first failed check, from the values read back. */
    json_t *resps = json_object_get(r, "responses");
    size_t k = 0;
    st = vdb_set_errmsg(VDB_ECONFLICT, "%s: txn: a check failed", e->where);
    for (size_t i = 0; i < n; i++) {
        const vdb_meta_op *o = &ops[i];
        if (o->kind != VDB_META_CHECK_VALUE && o->kind != VDB_META_CHECK_ABSENT)
            continue;
        json_t *rr = json_object_get(json_array_get(resps, k++), "response_range");
        json_t *kv = json_array_get(json_object_get(rr, "kvs"), 0);
        if (o->kind == VDB_META_CHECK_ABSENT) {
            if (kv) {
                st = vdb_set_errmsg(VDB_ECONFLICT, "%s: txn: key %s exists", e->where,
                                    o->key);
                break;
            }
            continue;
        }
        if (!kv) {
            st = vdb_set_errmsg(VDB_ECONFLICT, "%s: txn: key %s is missing", e->where, o->key);
            break;
        }
        uint8_t *v = NULL;
        size_t vl = 0;
        if (etcd_json_bytes(e, kv, "value", &v, &vl) != VDB_OK || vl != o->len ||
            (vl && memcmp(v, o->val, vl))) {
            free(v);
            st = vdb_set_errmsg(VDB_ECONFLICT, "%s: txn: key %s holds another value",
                                e->where, o->key);
            break;
        }
        free(v);
    }
    json_decref(r);
    return st;
}

const vdb_meta_backend vdb_etcd_meta_backend = {
    .version = VDB_META_BACKEND_VERSION,
    .scheme = "etcd",
    .open = etcd_open,
    .close = etcd_close,
    .get = etcd_get,
    .put = etcd_put,
    .del = etcd_del,
    .scan = etcd_scan,
    .txn = etcd_txn,
};

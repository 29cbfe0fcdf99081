/* The S3 object backend (s3://bucket/prefix?endpoint=...&region=...): the object vtable over
 * S3's REST API, with multipart upload for large objects and ListObjectsV2 pagination.
 *
 * URI parameters (all optional): endpoint (default https://s3.<region>.amazonaws.com,
 * virtual-hosted; any other endpoint is addressed path-style), region (default AWS_REGION,
 * AWS_DEFAULT_REGION, us-east-1), access_key + secret_key + session_token (prefer the
 * environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, since URIs end up in
 * logs), part_size (bytes, >= 5 MiB, default 8 MiB), multipart_threshold (default part_size),
 * timeout_ms (one request with its retries; default the open options' timeout, else 10 s),
 * tries (default 4), path_style (0/1), unsigned_payload (0/1: UNSIGNED-PAYLOAD instead of the
 * body's SHA-256), anonymous (0/1: unsigned requests to a public bucket). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

/* ---- keys ---- */

/* The key in the bucket: the store's prefix + key. malloc'ed; NULL with a message. */
static char *full_key(const s3_store *s, const char *key, vdb_status *st)
{
    const s3_config *c = vdb_s3_store_config(s);
    if (!key || !*key) {
        *st = vdb_set_errmsg(VDB_EINVAL, "s3: object key is empty");
        return NULL;
    }
    size_t pl = strlen(c->prefix), kl = strlen(key);
    if (pl + kl > S3_MAX_KEY) {
        *st = vdb_set_errmsg(VDB_EINVAL, "s3: object key '%.64s...' is %zu bytes with the "
                             "prefix; S3 allows %d", key, pl + kl, S3_MAX_KEY);
        return NULL;
    }
    char *k = malloc(pl + kl + 1);
    if (!k) {
        *st = vdb_set_errmsg(VDB_ENOMEM, "out of memory for s3 key '%s'", key);
        return NULL;
    }
    memcpy(k, c->prefix, pl);
    memcpy(k + pl, key, kl + 1);
    return k;
}

static vdb_status not_found(s3_store *s, const char *fkey, const s3_response *rs)
{
    const s3_config *c = vdb_s3_store_config(s);
    return vdb_set_errmsg(VDB_ENOTFOUND, "s3 object '%s' not found (bucket %s at %s: HTTP %ld "
                          "%s)", fkey, c->bucket, c->endpoint, rs->status, rs->code);
}

/* A 404 is a missing object unless S3 says the bucket itself is missing. */
static bool is_missing_object(const s3_response *rs)
{
    return rs->status == 404 && strcmp(rs->code, "NoSuchBucket") != 0;
}

/* Hands out the answer body as a malloc'ed, NUL-terminated buffer. */
static void *take_body(s3_response *rs, size_t *len)
{
    char *p = rs->body.p;
    *len = rs->body.len;
    if (!p)
        p = malloc(1);
    if (p)
        p[*len] = 0;
    rs->body.p = NULL;
    rs->body.len = rs->body.cap = 0;
    return p;
}

/* ---- open / close ---- */

static vdb_status s3_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    s3_store *s;
    vdb_status st = vdb_s3_store_new(uri, opt, &s);
    *out = st == VDB_OK ? s : NULL;
    return st;
}

static void s3_close(void *h)
{
    vdb_s3_store_free(h);
}

/* ---- put ---- */

static vdb_status put_single(s3_store *s, const char *fkey, const void *data, size_t len)
{
    s3_request rq = {.method = "PUT", .key = fkey, .body = data ? data : "", .body_len = len,
                     .retry = true};
    s3_response rs;
    vdb_status st = vdb_s3_perform(s, &rq, &rs, "put");
    if (st == VDB_OK && (rs.status < 200 || rs.status > 299))
        st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "put");
    vdb_s3_response_free(&rs);
    return st;
}

static void abort_upload(s3_store *s, const char *fkey, const char *eid)
{
    char *q = malloc(strlen(eid) + 16);
    if (!q)
        return;
    sprintf(q, "uploadId=%s", eid);
    /* best effort and quiet: the put's own error is the message the caller needs */
    s3_request rq = {.method = "DELETE", .key = fkey, .query = q, .retry = true, .quiet = true};
    s3_response rs;
    vdb_s3_perform(s, &rq, &rs, "abort multipart upload");
    vdb_s3_response_free(&rs);
    free(q);
}

static vdb_status put_multipart(s3_store *s, const char *fkey, const uint8_t *data, size_t len)
{
    const s3_config *c = vdb_s3_store_config(s);
    size_t part = c->part_size;
    if ((len + part - 1) / part > S3_MAX_PARTS) /* grow parts to fit S3's 10,000 */
        part = ((len / S3_MAX_PARTS + 1 + ((size_t)1 << 20) - 1) >> 20) << 20;
    size_t nparts = (len + part - 1) / part;
    s3_response rs = {0};
    char *upload_id = NULL, *eid = NULL, *q = NULL, *body = NULL;
    char (*etags)[256] = NULL;
    vdb_status st;

    s3_request create = {.method = "POST", .key = fkey, .query = "uploads=", .retry = true};
    st = vdb_s3_perform(s, &create, &rs, "create multipart upload");
    if (st != VDB_OK)
        goto out;
    if (rs.status != 200) {
        st = vdb_s3_http_error(s, VDB_EIO, &create, &rs, "create multipart upload");
        goto out;
    }
    upload_id = vdb_s3_xml_text(rs.body.p, rs.body.len, "UploadId", NULL);
    if (!upload_id || !*upload_id) {
        st = vdb_set_errmsg(VDB_EIO, "s3 create multipart upload '%s' (bucket %s at %s): no "
                            "<UploadId> in the answer", fkey, c->bucket, c->endpoint);
        goto out;
    }
    eid = vdb_s3_uri_encode(upload_id, false);
    q = malloc(strlen(upload_id) * 3 + 64);
    etags = calloc(nparts, sizeof *etags);
    if (!eid || !q || !etags) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory uploading s3 object '%s'", fkey);
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
        size_t off = i * part, n = len - off < part ? len - off : part;
        /* SigV4 signs the query as sent: keep it sorted (partNumber < uploadId) */
        sprintf(q, "partNumber=%zu&uploadId=%s", i + 1, eid);
        s3_request up = {.method = "PUT", .key = fkey, .query = q, .body = data + off,
                         .body_len = n, .retry = true};
        vdb_s3_response_free(&rs);
        st = vdb_s3_perform(s, &up, &rs, "upload part");
        if (st == VDB_OK && rs.status != 200)
            st = vdb_s3_http_error(s, VDB_EIO, &up, &rs, "upload part");
        if (st == VDB_OK && !rs.etag[0])
            st = vdb_set_errmsg(VDB_EIO, "s3 upload part %zu of '%s' (bucket %s at %s): no "
                                "ETag in the answer", i + 1, fkey, c->bucket, c->endpoint);
        if (st != VDB_OK)
            goto out;
        memcpy(etags[i], rs.etag, sizeof etags[i]);
    }
    size_t cap = 128 + nparts * 600, bl = 0;
    body = malloc(cap);
    if (!body) {
        st = vdb_set_errmsg(VDB_ENOMEM, "out of memory uploading s3 object '%s'", fkey);
        goto out;
    }
    bl += (size_t)snprintf(body + bl, cap - bl, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < nparts; i++) {
        char *et = vdb_s3_xml_escape(etags[i]);
        if (!et) {
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory uploading s3 object '%s'", fkey);
            goto out;
        }
        bl += (size_t)snprintf(body + bl, cap - bl, "<Part><PartNumber>%zu</PartNumber><ETag>"
                               "%s</ETag></Part>", i + 1, et);
        free(et);
    }
    bl += (size_t)snprintf(body + bl, cap - bl, "</CompleteMultipartUpload>");
    sprintf(q, "uploadId=%s", eid);
    s3_request done = {.method = "POST", .key = fkey, .query = q, .body = body, .body_len = bl,
                       .content_type = "application/xml", .retry = true};
    vdb_s3_response_free(&rs);
    st = vdb_s3_perform(s, &done, &rs, "complete multipart upload");
    if (st != VDB_OK)
        goto out;
    /* S3 may answer 200 and still fail: the error is then in the body */
    bool body_error = rs.body.len && memmem(rs.body.p, rs.body.len, "<Error>", 7);
    if (rs.status == 200 && !body_error) {
        st = VDB_OK;
    } else if (rs.tries > 1 && rs.status == 404 && !strcmp(rs.code, "NoSuchUpload")) {
        /* an earlier try completed it and only its answer was lost: check the object */
        s3_request hd = {.method = "HEAD", .key = fkey, .retry = true};
        s3_response hr;
        st = vdb_s3_perform(s, &hd, &hr, "head");
        if (st == VDB_OK && !(hr.status == 200 && hr.has_length && hr.length == len))
            st = vdb_s3_http_error(s, VDB_EIO, &done, &rs, "complete multipart upload");
        vdb_s3_response_free(&hr);
    } else {
        if (body_error && rs.status == 200) {
            char *code = vdb_s3_xml_text(rs.body.p, rs.body.len, "Code", NULL);
            snprintf(rs.code, sizeof rs.code, "%s", code ? code : "");
            free(code);
        }
        st = vdb_s3_http_error(s, VDB_EIO, &done, &rs, "complete multipart upload");
    }
out:
    if (st != VDB_OK && eid)
        abort_upload(s, fkey, eid);
    vdb_s3_response_free(&rs);
    free(upload_id);
    free(eid);
    free(q);
    free(body);
    free(etags);
    return st;
}

static vdb_status s3_put(void *h, const char *key, const void *data, size_t len)
{
    s3_store *s = h;
    vdb_status st = VDB_OK;
    if (len && !data)
        return vdb_set_errmsg(VDB_EINVAL, "s3 put '%s': data is NULL", key ? key : "");
    char *fkey = full_key(s, key, &st);
    if (!fkey)
        return st;
    if (len > vdb_s3_store_config(s)->multipart_threshold)
        st = put_multipart(s, fkey, data, len);
    else
        st = put_single(s, fkey, data, len);
    free(fkey);
    return st;
}

/* ---- get, get_range, head ---- */

static vdb_status s3_get(void *h, const char *key, void **data, size_t *len)
{
    s3_store *s = h;
    vdb_status st = VDB_OK;
    char *fkey = full_key(s, key, &st);
    if (!fkey)
        return st;
    s3_request rq = {.method = "GET", .key = fkey, .retry = true};
    s3_response rs;
    st = vdb_s3_perform(s, &rq, &rs, "get");
    if (st == VDB_OK) {
        if (rs.status == 200) {
            *data = take_body(&rs, len);
            if (!*data)
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory reading s3 object '%s'", fkey);
        } else if (is_missing_object(&rs)) {
            st = not_found(s, fkey, &rs);
        } else {
            st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "get");
        }
    }
    vdb_s3_response_free(&rs);
    free(fkey);
    return st;
}

static vdb_status s3_head(void *h, const char *key, uint64_t *size)
{
    s3_store *s = h;
    vdb_status st = VDB_OK;
    char *fkey = full_key(s, key, &st);
    if (!fkey)
        return st;
    s3_request rq = {.method = "HEAD", .key = fkey, .retry = true};
    s3_response rs;
    st = vdb_s3_perform(s, &rq, &rs, "head");
    if (st == VDB_OK) {
        if (rs.status == 200 && rs.has_length)
            *size = rs.length;
        else if (rs.status == 200)
            st = vdb_set_errmsg(VDB_EIO, "s3 head '%s' (bucket %s at %s): no Content-Length",
                                fkey, vdb_s3_store_config(s)->bucket,
                                vdb_s3_store_config(s)->endpoint);
        else if (is_missing_object(&rs))
            st = not_found(s, fkey, &rs);
        else
            st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "head");
    }
    vdb_s3_response_free(&rs);
    free(fkey);
    return st;
}

static vdb_status s3_get_range(void *h, const char *key, uint64_t offset, size_t len,
                               void **data, size_t *got)
{
    s3_store *s = h;
    if (len == 0) { /* no byte range says "nothing": the object need only exist */
        uint64_t size;
        vdb_status st = s3_head(h, key, &size);
        if (st != VDB_OK)
            return st;
        *data = calloc(1, 1);
        *got = 0;
        return *data ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    vdb_status st = VDB_OK;
    char *fkey = full_key(s, key, &st);
    if (!fkey)
        return st;
    char range[64];
    if ((uint64_t)len - 1 > UINT64_MAX - offset)
        snprintf(range, sizeof range, "bytes=%" PRIu64 "-", offset);
    else
        snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset,
                 offset + (uint64_t)len - 1);
    s3_request rq = {.method = "GET", .key = fkey, .range = range, .retry = true};
    s3_response rs;
    st = vdb_s3_perform(s, &rq, &rs, "get range");
    if (st == VDB_OK) {
        if (rs.status == 206 || rs.status == 200) {
            if (rs.status == 200) { /* the range was ignored: the whole object came back */
                size_t total = rs.body.len;
                size_t skip = offset >= total ? total : (size_t)offset;
                size_t n = total - skip < len ? total - skip : len;
                memmove(rs.body.p, rs.body.p + skip, n);
                rs.body.len = n;
            } else if (rs.body.len > len) {
                rs.body.len = len;
            }
            *data = take_body(&rs, got);
            if (!*data)
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory reading s3 object '%s'", fkey);
        } else if (rs.status == 416) { /* offset at or past the end: nothing there */
            *data = calloc(1, 1);
            *got = 0;
            if (!*data)
                st = vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        } else if (is_missing_object(&rs)) {
            st = not_found(s, fkey, &rs);
        } else {
            st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "get range");
        }
    }
    vdb_s3_response_free(&rs);
    free(fkey);
    return st;
}

/* ---- list, del ---- */

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const s3_list_entry *)a)->key, ((const s3_list_entry *)b)->key);
}

/* S3 lists in UTF-8 byte order, but not every S3-compatible server does (s3rver walks its
 * folders), so every page is gathered and sorted before the first callback. That also lets a
 * callback write or delete in the store without moving a page boundary under the listing. */
static vdb_status s3_list(void *h, const char *prefix, vdb_object_list_fn fn, void *arg)
{
    s3_store *s = h;
    const s3_config *c = vdb_s3_store_config(s);
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "s3 list: callback is NULL");
    if (!prefix)
        prefix = "";
    size_t pl = strlen(c->prefix);
    char *full = malloc(pl + strlen(prefix) + 1);
    if (!full)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory listing s3 objects");
    memcpy(full, c->prefix, pl);
    strcpy(full + pl, prefix);
    size_t fl = strlen(full);
    char *eprefix = vdb_s3_uri_encode(full, false);
    char *token = NULL, *q = NULL;
    s3_list_entry *all = NULL;
    size_t n = 0, cap = 0;
    vdb_status st = eprefix ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (bool more = true; st == VDB_OK && more;) {
        char *etok = token ? vdb_s3_uri_encode(token, false) : NULL;
        free(q);
        q = malloc(strlen(eprefix) + (etok ? strlen(etok) : 0) + 64);
        if (!q || (token && !etok)) {
            free(etok);
            st = vdb_set_errmsg(VDB_ENOMEM, "out of memory listing s3 objects");
            break;
        }
        /* sorted as SigV4 wants: continuation-token < list-type < prefix */
        sprintf(q, "%s%s%slist-type=2&prefix=%s", etok ? "continuation-token=" : "",
                etok ? etok : "", etok ? "&" : "", eprefix);
        free(etok);
        s3_request rq = {.method = "GET", .key = NULL, .query = q, .retry = true};
        s3_response rs;
        st = vdb_s3_perform(s, &rq, &rs, "list");
        if (st == VDB_OK && rs.status != 200)
            st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "list");
        s3_list_page page = {0};
        if (st == VDB_OK)
            st = vdb_s3_parse_list(rs.body.p, rs.body.len, &page);
        vdb_s3_response_free(&rs);
        if (st != VDB_OK)
            break;
        for (size_t i = 0; i < page.count; i++) {
            if (strncmp(page.entries[i].key, full, fl) != 0)
                continue; /* not ours: a server that ignored the prefix */
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 256;
                s3_list_entry *na = realloc(all, ncap * sizeof *na);
                if (!na) {
                    st = vdb_set_errmsg(VDB_ENOMEM, "out of memory listing s3 objects");
                    break;
                }
                all = na;
                cap = ncap;
            }
            all[n++] = page.entries[i];
            page.entries[i].key = NULL; /* moved */
        }
        free(token);
        token = page.truncated ? page.next_token : NULL;
        page.next_token = NULL;
        more = token != NULL;
        vdb_s3_list_page_free(&page);
    }
    if (st == VDB_OK) {
        if (n)
            qsort(all, n, sizeof *all, cmp_entry);
        for (size_t i = 0; i < n; i++) {
            if (i && !strcmp(all[i].key, all[i - 1].key))
                continue; /* a server that repeated a key across pages */
            if (fn(arg, all[i].key + pl, all[i].size))
                break;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(all[i].key);
    free(all);
    free(token);
    free(q);
    free(eprefix);
    free(full);
    return st;
}

static vdb_status s3_del(void *h, const char *key)
{
    s3_store *s = h;
    vdb_status st = VDB_OK;
    char *fkey = full_key(s, key, &st);
    if (!fkey)
        return st;
    s3_request rq = {.method = "DELETE", .key = fkey, .retry = true};
    s3_response rs;
    st = vdb_s3_perform(s, &rq, &rs, "delete");
    if (st == VDB_OK && !(rs.status >= 200 && rs.status <= 299) && !is_missing_object(&rs))
        st = vdb_s3_http_error(s, VDB_EIO, &rq, &rs, "delete");
    vdb_s3_response_free(&rs);
    free(fkey);
    return st;
}

const vdb_object_backend vdb_s3_object_backend = {
    .version = VDB_OBJECT_BACKEND_VERSION,
    .scheme = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .get = s3_get,
    .get_range = s3_get_range,
    .head = s3_head,
    .list = s3_list,
    .del = s3_del,
};

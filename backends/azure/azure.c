/* azblob: the object vtable on Azure Blob Storage (block blobs over the REST API).
 *
 * URI: azblob://CONTAINER[/PREFIX]?account=NAME[&endpoint=URL][&key=BASE64][&sas=TOKEN]
 *          [&block_threshold=BYTES][&block_size=BYTES][&maxresults=N]
 *   endpoint         default https://NAME.blob.core.windows.net; for Azurite
 *                    http://127.0.0.1:PORT/devstoreaccount1 (the account is the first path part)
 *   key / sas        the account key (Shared Key signing) or a SAS token (percent-encoded in
 *                    the URI; appended to every request). Without them the credentials come
 *                    from AZURE_STORAGE_CONNECTION_STRING (AccountName, AccountKey,
 *                    BlobEndpoint, SharedAccessSignature, DefaultEndpointsProtocol,
 *                    EndpointSuffix, UseDevelopmentStorage) or AZURE_STORAGE_ACCOUNT and
 *                    AZURE_STORAGE_KEY, used when their account matches (or none is named).
 *   block_threshold  objects up to this size go in one Put Blob (default 8 MiB); larger ones
 *                    as Put Block calls of block_size bytes (default 4 MiB) and one Put Block
 *                    List that commits them atomically
 *   maxresults       List Blobs page size (default 5000, Azure's maximum)
 * Key K is the blob PREFIX/K. The container is created at open when it does not exist (a
 * "409 already exists" from a concurrent creator is fine); a SAS without the right to create
 * it makes open fail with a clear message. Every request gives up after the options'
 * timeout_ms (default 10 s), retries included. Thread-safe: no lock is held across I/O. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "azure_internal.h"

/* Azurite's (and the Azure Storage Emulator's) well-known development account, as Microsoft
 * documents it, for UseDevelopmentStorage=true connection strings. */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY                                                                               \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_ENDPOINT "http://127.0.0.1:10000/" DEV_ACCOUNT

/* ---- configuration ---- */

typedef struct creds {
    char *account, *key, *sas, *endpoint;
} creds;

static void creds_free(creds *c)
{
    free(c->account);
    free(c->key);
    free(c->sas);
    free(c->endpoint);
    memset(c, 0, sizeof *c);
}

static int set_str(char **dst, const char *src, size_t n)
{
    free(*dst);
    *dst = strndup(src, n);
    return *dst ? 0 : -1;
}

/* AccountName=..;AccountKey=..;BlobEndpoint=..;SharedAccessSignature=.. */
static vdb_status parse_connection_string(const char *cs, creds *out)
{
    char *proto = NULL, *suffix = NULL;
    int dev = 0, oom = 0;
    const char *p = cs;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq) {
            size_t kl = (size_t)(eq - p), vl = n - kl - 1;
            const char *v = eq + 1;
#define IS(name) (kl == strlen(name) && !strncasecmp(p, name, kl))
            if (IS("AccountName"))
                oom |= set_str(&out->account, v, vl);
            else if (IS("AccountKey"))
                oom |= set_str(&out->key, v, vl);
            else if (IS("BlobEndpoint"))
                oom |= set_str(&out->endpoint, v, vl);
            else if (IS("SharedAccessSignature"))
                oom |= set_str(&out->sas, v, vl);
            else if (IS("DefaultEndpointsProtocol"))
                oom |= set_str(&proto, v, vl);
            else if (IS("EndpointSuffix"))
                oom |= set_str(&suffix, v, vl);
            else if (IS("UseDevelopmentStorage"))
                dev = vl == 4 && !strncasecmp(v, "true", 4);
#undef IS
        }
        p += n + (semi ? 1 : 0);
    }
    if (dev && !oom) {
        if (!out->account)
            oom |= set_str(&out->account, DEV_ACCOUNT, strlen(DEV_ACCOUNT));
        if (!out->key && !out->sas)
            oom |= set_str(&out->key, DEV_KEY, strlen(DEV_KEY));
        if (!out->endpoint)
            oom |= set_str(&out->endpoint, DEV_ENDPOINT, strlen(DEV_ENDPOINT));
    }
    if (!oom && !out->endpoint && out->account && (proto || suffix)) {
        if (asprintf(&out->endpoint, "%s://%s.blob.%s", proto ? proto : "https", out->account,
                     suffix ? suffix : "core.windows.net") < 0) {
            out->endpoint = NULL;
            oom = 1;
        }
    }
    free(proto);
    free(suffix);
    return oom ? vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory") : VDB_OK;
}

static void store_free(az_store *s)
{
    if (!s)
        return;
    az_pool_free(s);
    pthread_mutex_destroy(&s->lock);
    free(s->account);
    free(s->sas);
    free(s->endpoint);
    free(s->base_path);
    free(s->container);
    free(s->prefix);
    memset(s->key, 0, sizeof s->key);
    free(s);
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || x == 0 || x > (1ull << 40))
        return -1;
    *out = (size_t)x;
    return 0;
}

/* Fills s from the URI; the credentials not in it come from the environment. */
static vdb_status parse_uri(const char *uri, az_store *s)
{
    static const char scheme[] = "azblob://";
    creds u = {0}, env = {0};
    vdb_status st = VDB_OK;
    char *rest = NULL;
    if (strncmp(uri, scheme, sizeof scheme - 1))
        return vdb_set_errmsg(VDB_EINVAL, "azblob: '%s' is not an azblob:// URI", uri);
    rest = strdup(uri + sizeof scheme - 1);
    if (!rest)
        return vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    char *query = strchr(rest, '?');
    if (query)
        *query++ = 0;
    char *slash = strchr(rest, '/');
    if (slash)
        *slash++ = 0;
    if (!*rest) {
        st = vdb_set_errmsg(VDB_EINVAL, "azblob: '%s' names no container "
                            "(azblob://CONTAINER/PREFIX?account=NAME)", uri);
        goto out;
    }
    s->container = strdup(rest);
    /* the prefix without leading or trailing slashes, then one '/' after it */
    const char *pf = slash ? slash : "";
    while (*pf == '/')
        pf++;
    size_t pl = strlen(pf);
    while (pl && pf[pl - 1] == '/')
        pl--;
    if (pl) {
        if (asprintf(&s->prefix, "%.*s/", (int)pl, pf) < 0)
            s->prefix = NULL;
    } else {
        s->prefix = strdup("");
    }
    if (!s->container || !s->prefix) {
        st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
        goto out;
    }
    for (char *save = NULL, *tok = query ? strtok_r(query, "&", &save) : NULL; tok;
         tok = strtok_r(NULL, "&", &save)) {
        char *v = strchr(tok, '=');
        if (!v) {
            st = vdb_set_errmsg(VDB_EINVAL, "azblob: parameter '%s' has no value in %s", tok,
                                uri);
            goto out;
        }
        *v++ = 0;
        az_pct_decode(v, 0);
        int oom = 0;
        if (!strcmp(tok, "account"))
            oom = set_str(&u.account, v, strlen(v));
        else if (!strcmp(tok, "endpoint"))
            oom = set_str(&u.endpoint, v, strlen(v));
        else if (!strcmp(tok, "key"))
            oom = set_str(&u.key, v, strlen(v));
        else if (!strcmp(tok, "sas"))
            oom = set_str(&u.sas, v, strlen(v));
        else if (!strcmp(tok, "block_threshold") || !strcmp(tok, "block_size") ||
                 !strcmp(tok, "maxresults")) {
            size_t x;
            if (parse_size(v, &x)) {
                st = vdb_set_errmsg(VDB_EINVAL, "azblob: %s=%s is not a positive size", tok, v);
                goto out;
            }
            if (!strcmp(tok, "block_threshold"))
                s->threshold = x;
            else if (!strcmp(tok, "block_size"))
                s->block_size = x;
            else
                s->page = x > 5000 ? 5000 : (unsigned)x;
        } else {
            st = vdb_set_errmsg(VDB_EINVAL, "azblob: unknown parameter '%s' in %s (known: "
                                "account, endpoint, key, sas, block_threshold, block_size, "
                                "maxresults)", tok, uri);
            goto out;
        }
        if (oom) {
            st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
            goto out;
        }
    }

    /* credentials not in the URI: the connection string, then the two variables */
    if (!u.key && !u.sas) {
        const char *cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
        if (cs && *cs) {
            if ((st = parse_connection_string(cs, &env)) != VDB_OK)
                goto out;
            if (!u.account || (env.account && !strcmp(env.account, u.account))) {
                if (!u.account && env.account)
                    u.account = strdup(env.account);
                u.key = env.key ? strdup(env.key) : NULL;
                u.sas = env.sas ? strdup(env.sas) : NULL;
                if (!u.endpoint && env.endpoint)
                    u.endpoint = strdup(env.endpoint);
            }
        }
    }
    if (!u.key && !u.sas) {
        const char *ea = getenv("AZURE_STORAGE_ACCOUNT"), *ek = getenv("AZURE_STORAGE_KEY");
        if (ea && !*ea)
            ea = NULL;
        if (!u.account && ea)
            u.account = strdup(ea);
        if (ek && *ek && u.account && (!ea || !strcmp(ea, u.account)))
            u.key = strdup(ek);
    }
    if (!u.account) {
        st = vdb_set_errmsg(VDB_EINVAL, "azblob: no storage account for %s: give account=NAME "
                            "or set AZURE_STORAGE_ACCOUNT or AZURE_STORAGE_CONNECTION_STRING",
                            uri);
        goto out;
    }
    if (!u.key && !u.sas) {
        st = vdb_set_errmsg(VDB_EINVAL, "azblob: no credentials for account '%s': give key= or "
                            "sas= in the URI, or set AZURE_STORAGE_KEY or "
                            "AZURE_STORAGE_CONNECTION_STRING", u.account);
        goto out;
    }
    s->account = strdup(u.account);
    if (u.key) {
        long n = az_b64_decode(u.key, s->key, sizeof s->key);
        if (n <= 0) {
            st = vdb_set_errmsg(VDB_EINVAL, "azblob: the account key for '%s' is not valid "
                                "base64", u.account);
            goto out;
        }
        s->key_len = (size_t)n;
    } else {
        const char *t = u.sas[0] == '?' ? u.sas + 1 : u.sas;
        s->sas = strdup(t);
    }
    if (u.endpoint) {
        size_t n = strlen(u.endpoint);
        while (n && u.endpoint[n - 1] == '/')
            n--;
        s->endpoint = strndup(u.endpoint, n);
    } else if (asprintf(&s->endpoint, "https://%s.blob.core.windows.net", u.account) < 0) {
        s->endpoint = NULL;
    }
    if (!s->account || !s->endpoint || (u.sas && !s->sas)) {
        st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
        goto out;
    }
    const char *hostp = strstr(s->endpoint, "://");
    if (!hostp || (strncmp(s->endpoint, "http://", 7) && strncmp(s->endpoint, "https://", 8))) {
        st = vdb_set_errmsg(VDB_EINVAL, "azblob: endpoint '%s' is not an http:// or https:// "
                            "URL", s->endpoint);
        goto out;
    }
    const char *path = strchr(hostp + 3, '/');
    s->base_path = strdup(path ? path : "");
    if (!s->base_path)
        st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
out:
    creds_free(&u);
    creds_free(&env);
    free(rest);
    return st;
}

/* ---- helpers ---- */

/* "/container/PREFIXkey", percent-encoded for the URL; NULL with the status set. */
static char *blob_path(az_store *s, const char *key, vdb_status *st)
{
    if (!key || !*key) {
        *st = vdb_set_errmsg(VDB_EINVAL, "azblob: empty object key");
        return NULL;
    }
    size_t n = strlen(s->prefix) + strlen(key);
    if (n > AZ_MAX_NAME) {
        *st = vdb_set_errmsg(VDB_EINVAL, "azblob: object name '%s%s' is longer than Azure's %d "
                             "characters", s->prefix, key, AZ_MAX_NAME);
        return NULL;
    }
    char *name = NULL, *enc = NULL, *path = NULL;
    if (asprintf(&name, "%s/%s%s", s->container, s->prefix, key) >= 0) {
        enc = az_pct_encode(name, 1);
        if (enc && asprintf(&path, "/%s", enc) < 0)
            path = NULL;
    } else {
        name = NULL;
    }
    free(name);
    free(enc);
    if (!path)
        *st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    return path;
}

/* For messages: "container/PREFIXkey". */
static void what_of(const az_store *s, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "blob %s/%s%s", s->container, s->prefix, key ? key : "");
}

static vdb_status probe_or_create_container(az_store *s)
{
    char cpath[512], what[600];
    char *enc = az_pct_encode(s->container, 0);
    if (!enc)
        return vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    snprintf(cpath, sizeof cpath, "/%s", enc);
    free(enc);
    snprintf(what, sizeof what, "container %s", s->container);
    az_req probe = {.method = "GET", .path = cpath,
                    .query = "comp=list&maxresults=1&restype=container"};
    az_resp r;
    vdb_status st = az_http(s, &probe, &r, what);
    if (st != VDB_OK)
        return st;
    if (r.status == 200) {
        az_resp_free(&r);
        return VDB_OK;
    }
    if (r.status != 404) {
        st = az_fail(s, &r, "open", what);
        az_resp_free(&r);
        return st;
    }
    az_resp_free(&r);
    az_req create = {.method = "PUT", .path = cpath, .query = "restype=container"};
    if ((st = az_http(s, &create, &r, what)) != VDB_OK)
        return st;
    if (r.status != 201 && r.status != 409) {
        st = az_fail(s, &r, "create", what);
        az_resp_free(&r);
        return vdb_set_errmsg(st, "azblob: container '%s' does not exist and could not be "
                              "created (HTTP %ld %s)", s->container, r.status, r.code);
    }
    az_resp_free(&r);
    return VDB_OK;
}

/* ---- the vtable ---- */

static vdb_status az_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    if (!uri || !out)
        return vdb_set_errmsg(VDB_EINVAL, "azblob: open needs a URI and an out pointer");
    vdb_status st = az_http_init();
    if (st != VDB_OK)
        return st;
    az_store *s = calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : AZ_DEFAULT_TIMEOUT_MS;
    s->threshold = AZ_DEFAULT_THRESHOLD;
    s->block_size = AZ_DEFAULT_BLOCK_SIZE;
    s->page = AZ_DEFAULT_PAGE;
    if ((st = parse_uri(uri, s)) != VDB_OK || (st = probe_or_create_container(s)) != VDB_OK) {
        store_free(s);
        return st;
    }
    *out = s;
    return VDB_OK;
}

static void az_close(void *h) { store_free(h); }

static vdb_status put_whole(az_store *s, const char *path, const void *data, size_t len,
                            const char *what)
{
    az_req req = {.method = "PUT", .path = path, .body = data, .body_len = len,
                  .xms = {"x-ms-blob-type: BlockBlob"}, .nxms = 1};
    az_resp r;
    vdb_status st = az_http(s, &req, &r, what);
    if (st == VDB_OK && r.status != 201)
        st = az_fail(s, &r, "put", what);
    az_resp_free(&r);
    return st;
}

/* Stages the object as blocks with ids unique to this upload (so two writers of one key do
 * not mix their blocks), then commits them in one Put Block List: atomic for readers. */
static vdb_status put_blocks(az_store *s, const char *path, const uint8_t *data, size_t len,
                             const char *what)
{
    static atomic_uint_fast64_t counter;
    size_t bs = s->block_size;
    if (len / bs >= 50000) /* Azure's limit on blocks per blob */
        bs = len / 49999 + 1;
    size_t nblocks = (len + bs - 1) / bs;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t tag = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                   ((uint64_t)getpid() << 40) ^ (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull);
    /* each id: 24 characters, 32 in base64 (no padding), the same length for every block */
    const size_t id_len = 32;
    char *ids = malloc(nblocks * (id_len + 1));
    size_t xml_cap = 64 + nblocks * (id_len + 20);
    char *xml = malloc(xml_cap);
    vdb_status st = VDB_OK;
    if (!ids || !xml) {
        st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
        goto out;
    }
    size_t xl = (size_t)snprintf(xml, xml_cap, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                                                 "<BlockList>");
    for (size_t i = 0; i < nblocks; i++) {
        char raw[48]; /* 24 characters: i < 50,000 fits in the 8 hex digits */
        snprintf(raw, sizeof raw, "%016" PRIx64 "%08x", tag, (unsigned)i);
        char *b64 = az_b64_encode(raw, 24);
        if (!b64) {
            st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
            goto out;
        }
        char *id = ids + i * (id_len + 1);
        memcpy(id, b64, id_len + 1);
        free(b64);
        char *enc = az_pct_encode(id, 0);
        char query[128];
        if (!enc) {
            st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
            goto out;
        }
        snprintf(query, sizeof query, "blockid=%s&comp=block", enc);
        free(enc);
        size_t off = i * bs, n = len - off < bs ? len - off : bs;
        az_req req = {.method = "PUT", .path = path, .query = query, .body = data + off,
                      .body_len = n};
        az_resp r;
        st = az_http(s, &req, &r, what);
        if (st == VDB_OK && r.status != 201)
            st = az_fail(s, &r, "put block", what);
        az_resp_free(&r);
        if (st != VDB_OK)
            goto out;
        xl += (size_t)snprintf(xml + xl, xml_cap - xl, "<Latest>%s</Latest>", id);
    }
    xl += (size_t)snprintf(xml + xl, xml_cap - xl, "</BlockList>");
    az_req req = {.method = "PUT", .path = path, .query = "comp=blocklist", .body = xml,
                  .body_len = xl};
    az_resp r;
    st = az_http(s, &req, &r, what);
    if (st == VDB_OK && r.status != 201)
        st = az_fail(s, &r, "put block list", what);
    az_resp_free(&r);
out:
    free(ids);
    free(xml);
    return st;
}

static vdb_status az_put(void *h, const char *key, const void *data, size_t len)
{
    az_store *s = h;
    vdb_status st = VDB_OK;
    if (!data && len)
        return vdb_set_errmsg(VDB_EINVAL, "azblob put: NULL data of %zu bytes", len);
    char *path = blob_path(s, key, &st);
    if (!path)
        return st;
    char what[1200];
    what_of(s, key, what, sizeof what);
    if (len <= s->threshold)
        st = put_whole(s, path, data, len, what);
    else
        st = put_blocks(s, path, data, len, what);
    free(path);
    return st;
}

static vdb_status get_common(az_store *s, const char *key, int ranged, uint64_t off,
                             size_t len, void **data, size_t *got)
{
    vdb_status st = VDB_OK;
    if (!data || !got)
        return vdb_set_errmsg(VDB_EINVAL, "azblob get: NULL output");
    *data = NULL;
    *got = 0;
    char *path = blob_path(s, key, &st);
    if (!path)
        return st;
    char what[1200];
    what_of(s, key, what, sizeof what);
    az_req req = {.method = "GET", .path = path};
    if (ranged) {
        req.range_off = off;
        req.range_len = len;
        if (UINT64_MAX - off < req.range_len)
            req.range_len = UINT64_MAX - off;
    }
    az_resp r;
    st = az_http(s, &req, &r, what);
    free(path);
    if (st != VDB_OK)
        return st;
    if (ranged && r.status == 416) { /* the range starts at or past the end */
        az_resp_free(&r);
        *data = malloc(1);
        return *data ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    }
    if (r.status != 200 && r.status != 206) {
        st = az_fail(s, &r, ranged ? "get range" : "get", what);
        az_resp_free(&r);
        return st;
    }
    if (r.content_length >= 0 && (uint64_t)r.content_length != r.len) {
        st = vdb_set_errmsg(VDB_EIO, "azblob get %s: %zu bytes arrived of the %lld announced",
                            what, r.len, (long long)r.content_length);
        az_resp_free(&r);
        return st;
    }
    char *body = r.body;
    size_t n = r.len;
    if (ranged && r.status == 200) { /* the whole object came: cut out the range */
        size_t skip = off < n ? (size_t)off : n;
        size_t keep = n - skip < len ? n - skip : len;
        if (body)
            memmove(body, body + skip, keep);
        n = keep;
    }
    if (!body && !(body = malloc(1)))
        return vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    *data = body;
    *got = n;
    return VDB_OK;
}

static vdb_status az_get(void *h, const char *key, void **data, size_t *len)
{
    return get_common(h, key, 0, 0, 0, data, len);
}

static vdb_status az_head(void *h, const char *key, uint64_t *size)
{
    az_store *s = h;
    vdb_status st = VDB_OK;
    char *path = blob_path(s, key, &st);
    if (!path)
        return st;
    char what[1200];
    what_of(s, key, what, sizeof what);
    az_req req = {.method = "HEAD", .path = path, .no_body = 1};
    az_resp r;
    st = az_http(s, &req, &r, what);
    free(path);
    if (st != VDB_OK)
        return st;
    if (r.status != 200)
        st = az_fail(s, &r, "head", what);
    else if (r.content_length < 0)
        st = vdb_set_errmsg(VDB_EIO, "azblob head %s: no Content-Length in the answer", what);
    else if (size)
        *size = (uint64_t)r.content_length;
    az_resp_free(&r);
    return st;
}

static vdb_status az_get_range(void *h, const char *key, uint64_t offset, size_t len,
                               void **data, size_t *got)
{
    if (len == 0) { /* nothing to read, but a missing object is still an error */
        if (!data || !got)
            return vdb_set_errmsg(VDB_EINVAL, "azblob get range: NULL output");
        vdb_status st = az_head(h, key, NULL);
        if (st != VDB_OK)
            return st;
        *got = 0;
        *data = malloc(1);
        return *data ? VDB_OK : vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
    }
    return get_common(h, key, 1, offset, len, data, got);
}

static vdb_status az_list(void *h, const char *prefix, vdb_object_list_fn fn, void *arg)
{
    az_store *s = h;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "azblob list: NULL callback");
    char *full = NULL, *enc_prefix = NULL, *enc_cont = NULL, *marker = NULL;
    char *query = NULL, *path = NULL;
    vdb_status st = VDB_OK;
    const size_t strip = strlen(s->prefix);
    if (asprintf(&full, "%s%s", s->prefix, prefix ? prefix : "") < 0) {
        full = NULL;
        goto oom;
    }
    enc_prefix = az_pct_encode(full, 0);
    enc_cont = az_pct_encode(s->container, 0);
    if (!enc_prefix || !enc_cont || asprintf(&path, "/%s", enc_cont) < 0)
        goto oom;
    char what[1200];
    snprintf(what, sizeof what, "container %s prefix '%s'", s->container, full);
    int stop = 0;
    do {
        char *enc_marker = marker ? az_pct_encode(marker, 0) : NULL;
        if (marker && !enc_marker)
            goto oom;
        free(query);
        int qn = asprintf(&query, "comp=list%s%s&maxresults=%u%s%s&restype=container",
                          enc_marker ? "&marker=" : "", enc_marker ? enc_marker : "", s->page,
                          *full ? "&prefix=" : "", *full ? enc_prefix : "");
        free(enc_marker);
        if (qn < 0) {
            query = NULL;
            goto oom;
        }
        az_req req = {.method = "GET", .path = path, .query = query};
        az_resp r;
        if ((st = az_http(s, &req, &r, what)) != VDB_OK)
            goto out;
        if (r.status != 200) {
            st = az_fail(s, &r, "list", what);
            az_resp_free(&r);
            goto out;
        }
        const char *p = r.body ? r.body : "", *end = p + r.len, *bs, *ns, *attrs;
        size_t bl, nl, al;
        const char *blobs_end = end;
        while (!stop && (p = az_xml_find(p, blobs_end, "Blob", &bs, &bl, NULL, NULL))) {
            const char *be = bs + bl, *cs;
            size_t cl;
            if (!az_xml_find(bs, be, "Name", &ns, &nl, &attrs, &al)) {
                st = vdb_set_errmsg(VDB_EIO, "azblob list %s: a <Blob> without <Name>", what);
                az_resp_free(&r);
                goto out;
            }
            char *name = strndup(ns, nl);
            if (!name) {
                az_resp_free(&r);
                goto oom;
            }
            az_xml_unescape(name);
            if (memmem(attrs, al, "Encoded=\"true\"", 14))
                az_pct_decode(name, 0);
            uint64_t size = 0;
            if (az_xml_find(bs, be, "Content-Length", &cs, &cl, NULL, NULL))
                size = strtoull(cs, NULL, 10);
            if (strlen(name) >= strip && !strncmp(name, s->prefix, strip))
                stop = fn(arg, name + strip, size) != 0;
            free(name);
        }
        free(marker);
        marker = NULL;
        const char *ms;
        size_t ml;
        if (!stop && r.body && az_xml_find(r.body, end, "NextMarker", &ms, &ml, NULL, NULL) &&
            ml) {
            marker = strndup(ms, ml);
            if (!marker) {
                az_resp_free(&r);
                goto oom;
            }
            az_xml_unescape(marker);
        }
        az_resp_free(&r);
    } while (marker && !stop);
    goto out;
oom:
    st = vdb_set_errmsg(VDB_ENOMEM, "azblob: out of memory");
out:
    free(full);
    free(enc_prefix);
    free(enc_cont);
    free(marker);
    free(query);
    free(path);
    return st;
}

static vdb_status az_del(void *h, const char *key)
{
    az_store *s = h;
    vdb_status st = VDB_OK;
    char *path = blob_path(s, key, &st);
    if (!path)
        return st;
    char what[1200];
    what_of(s, key, what, sizeof what);
    az_req req = {.method = "DELETE", .path = path};
    az_resp r;
    st = az_http(s, &req, &r, what);
    free(path);
    if (st != VDB_OK)
        return st;
    if (r.status != 202 && r.status != 200 && r.status != 404)
        st = az_fail(s, &r, "delete", what);
    az_resp_free(&r);
    return st;
}

const vdb_object_backend vdb_azure_object_backend = {
    .version = VDB_OBJECT_BACKEND_VERSION,
    .scheme = "azblob",
    .open = az_open,
    .close = az_close,
    .put = az_put,
    .get = az_get,
    .get_range = az_get_range,
    .head = az_head,
    .list = az_list,
    .del = az_del,
};

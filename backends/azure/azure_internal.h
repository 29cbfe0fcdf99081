/* The azblob backend's private header: its configuration, the HTTP layer (Shared Key or SAS
 * signed requests with retries) and the small codecs (base64, HMAC, percent and XML). */
#ifndef VDB_AZURE_INTERNAL_H
#define VDB_AZURE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vdb/sys/object_backend.h"

extern const vdb_object_backend vdb_azure_object_backend;

#define AZ_API_VERSION "2021-08-06"
#define AZ_DEFAULT_TIMEOUT_MS 10000u
#define AZ_DEFAULT_THRESHOLD (8u << 20)  /* Put Blob up to this size, blocks above it */
#define AZ_DEFAULT_BLOCK_SIZE (4u << 20) /* the size of one staged block */
#define AZ_DEFAULT_PAGE 5000u            /* List Blobs maxresults (Azure's own maximum) */
#define AZ_MAX_NAME 1024                 /* Azure's limit on a blob name, in characters */
#define AZ_POOL_MAX 16                   /* idle curl handles kept for connection reuse */

typedef struct az_store {
    char *account;
    unsigned char key[64]; /* the decoded account key (Shared Key), key_len 0 with a SAS */
    size_t key_len;
    char *sas;       /* the SAS token without its leading '?', or NULL */
    char *endpoint;  /* scheme://host[:port][/path], no trailing '/' */
    char *base_path; /* the endpoint's path ("" or "/devstoreaccount1"), for signing */
    char *container;
    char *prefix;    /* "" or "dir/": prepended to every key */
    uint32_t timeout_ms;
    size_t threshold, block_size;
    unsigned page;
    pthread_mutex_t lock; /* guards pool */
    void *pool[AZ_POOL_MAX];
    int npool;
} az_store;

/* ---- codecs (azure_util.c) ---- */

/* Base64 of n bytes into a malloc'ed NUL-terminated string (NULL when out of memory). */
char *az_b64_encode(const void *data, size_t n);
/* Decodes base64 into out (cap bytes); -1 when malformed or too long, else the length. */
long az_b64_decode(const char *s, unsigned char *out, size_t cap);
/* HMAC-SHA256 of msg under key, as base64 into out (at least 45 bytes). 0 on success. */
int az_hmac_b64(const void *key, size_t key_len, const char *msg, size_t msg_len, char out[64]);
/* Percent-encodes s; '/' is kept when keep_slash. malloc'ed, NULL when out of memory. */
char *az_pct_encode(const char *s, int keep_slash);
/* Decodes %XX (and '+' as space when plus) in place. */
void az_pct_decode(char *s, int plus);
/* Decodes XML character references and the five named entities in place. */
void az_xml_unescape(char *s);
/* The text of the first <tag>...</tag> (or <tag attr...>) in [p, end): sets *start, *len and
 * *attrs (what follows the tag name up to '>', length *alen); NULL when absent, else the
 * position after the closing tag. */
const char *az_xml_find(const char *p, const char *end, const char *tag, const char **start,
                        size_t *len, const char **attrs, size_t *alen);
/* An RFC 1123 date for x-ms-date ("Sun, 06 Nov 1994 08:49:37 GMT"), locale-free. */
void az_http_date(char out[40]);

/* ---- HTTP (azure_http.c) ---- */

/* One request: the method, the path after the endpoint (already percent-encoded, starting
 * with '/'), the query (name=value pairs joined by '&', values percent-encoded, or NULL), a
 * body to send (PUT), a Range to ask for (range_len 0: none) and extra x-ms-* headers
 * ("x-ms-blob-type: BlockBlob"; at most 4). */
typedef struct az_req {
    const char *method;
    const char *path;
    const char *query;
    const void *body;
    size_t body_len;
    uint64_t range_off;
    uint64_t range_len;
    const char *xms[4];
    int nxms;
    int no_body; /* HEAD: no response body */
} az_req;

/* What came back: the status, the body (malloc'ed, NUL-terminated; free it), the response's
 * Content-Length and Azure's error code (x-ms-error-code or the XML <Code>). */
typedef struct az_resp {
    long status;
    char *body;
    size_t len;
    int64_t content_length;
    char code[96];
} az_resp;

vdb_status az_http_init(void);
void az_pool_free(az_store *s);
/* Sends req, retrying 5xx, 429, connection failures and timeouts with a bounded exponential
 * backoff until s->timeout_ms has passed since the call. VDB_OK means an HTTP answer came
 * (any status: check resp->status); VDB_EIO means none did (the message says why, naming
 * what). what names the object in messages ("blob c/k"). */
vdb_status az_http(az_store *s, const az_req *req, az_resp *resp, const char *what);
/* The status and message for an HTTP answer that is an error: 404 -> VDB_ENOTFOUND,
 * 403 -> VDB_EIO "authentication failed", 409/412 -> VDB_ECONFLICT, 400 -> VDB_EINVAL,
 * others VDB_EIO. */
vdb_status az_fail(const az_store *s, const az_resp *r, const char *op, const char *what);
void az_resp_free(az_resp *r);

#endif

/* The S3 object backend's internal header: its configuration, the request layer (s3_http.c)
 * and the pure helpers (s3_util.c: URI parsing, encoding, hashing, XML) that the tests reach
 * directly. Nothing outside backends/s3/ and tests/test_s3.c includes it. */
#ifndef VDB_S3_H
#define VDB_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdb/sys/object_backend.h"

#define S3_DEFAULT_PART_SIZE ((size_t)8 << 20)
#define S3_MIN_PART_SIZE ((size_t)5 << 20) /* S3 refuses smaller parts (but the last) */
#define S3_MAX_PART_SIZE ((size_t)5 << 30)
#define S3_MAX_PARTS 10000
#define S3_DEFAULT_TIMEOUT_MS 10000
#define S3_DEFAULT_TRIES 4
#define S3_MAX_TRIES 10
#define S3_MAX_KEY 1024 /* bytes of the whole key in the bucket, prefix included */

/* What an s3:// URI says; immutable after open. Strings are malloc'ed. */
typedef struct s3_config {
    char *bucket;
    char *prefix;   /* "" or a key prefix ending with '/' that every key goes under */
    char *endpoint; /* scheme://host[:port][/path], no trailing '/' */
    char *region;
    char *access_key; /* NULL with anonymous */
    char *secret_key;
    char *session_token; /* NULL unless temporary credentials */
    bool anonymous;      /* unsigned requests (public buckets) */
    bool path_style;     /* endpoint/bucket/key rather than bucket.endpoint/key */
    bool unsigned_payload;
    size_t part_size;
    size_t multipart_threshold; /* objects larger than this go in parts */
    uint32_t timeout_ms;        /* one request, its retries included */
    int max_tries;
} s3_config;

/* Parses an s3://bucket[/prefix][?k=v&...] URI; credentials missing from the URI come from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, the region from AWS_REGION
 * or AWS_DEFAULT_REGION. Messages never repeat a secret. */
vdb_status vdb_s3_config_parse(const char *uri, const vdb_backend_options *opt, s3_config *cfg);
void vdb_s3_config_free(s3_config *cfg);

/* RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash),
 * in upper-case hex: the form SigV4 signs, so a URL built from it is its own canonical form.
 * malloc'ed; NULL when out of memory. */
char *vdb_s3_uri_encode(const char *s, bool keep_slash);
/* Decodes %XX escapes of s[0..n) ('+' stays '+'); NULL on a bad escape or a %00. */
char *vdb_s3_pct_decode(const char *s, size_t n);
/* Lower-case hex SHA-256 of data: the x-amz-content-sha256 value of a payload. */
void vdb_s3_sha256_hex(const void *data, size_t len, char out[65]);

/* Decodes XML character data s[0..n): the five named entities and &#N; / &#xH; references
 * (as UTF-8). malloc'ed; NULL on a malformed reference or out of memory. */
char *vdb_s3_xml_unescape(const char *s, size_t n);
/* The unescaped text of the first <tag>...</tag> (or <tag/>) in xml[0..len) at or after
 * *from; *from is moved past the element when found. NULL when absent (or on bad escapes). */
char *vdb_s3_xml_text(const char *xml, size_t len, const char *tag, size_t *from);
/* Escapes text for an XML element (for the CompleteMultipartUpload body). malloc'ed. */
char *vdb_s3_xml_escape(const char *s);

/* One page of a ListObjectsV2 answer. */
typedef struct s3_list_entry {
    char *key;
    uint64_t size;
} s3_list_entry;

typedef struct s3_list_page {
    s3_list_entry *entries;
    size_t count;
    bool truncated;
    char *next_token; /* NULL when not truncated */
} s3_list_page;

/* VDB_ECORRUPT (with a message) when the body is not a well-formed ListBucketResult. */
vdb_status vdb_s3_parse_list(const char *xml, size_t len, s3_list_page *page);
void vdb_s3_list_page_free(s3_list_page *page);

/* ---- requests (s3_http.c) ---- */

typedef struct s3_store s3_store;

typedef struct s3_buf {
    char *p;
    size_t len, cap;
} s3_buf;

typedef struct s3_request {
    const char *method; /* GET, HEAD, PUT, POST, DELETE */
    const char *key;    /* full key in the bucket (prefix applied); NULL: the bucket itself */
    const char *query;  /* already sorted and encoded ("a=1&b=x%2Fy"), or NULL */
    const void *body;
    size_t body_len;
    const char *range;        /* "bytes=a-b", or NULL */
    const char *content_type; /* for requests with a body */
    bool retry;               /* safe to send again (idempotent) */
    bool quiet;               /* a failure sets no error message (best-effort cleanup) */
} s3_request;

typedef struct s3_response {
    long status;     /* the HTTP status of the last attempt */
    s3_buf body;     /* malloc'ed; free with free(body.p) */
    char etag[256];  /* ETag header, quotes kept */
    char code[64];   /* the S3 error code from an XML error body (or from the status) */
    char msg[256];   /* its Message */
    uint64_t length; /* Content-Length when has_length */
    bool has_length;
    int tries;
} s3_response;

/* Sends the request (retrying with backoff on connection failures, timeouts, 5xx and 429 when
 * rq->retry, within one deadline of cfg.timeout_ms) and fills rs. VDB_OK when an HTTP answer
 * came back, whatever its status (see rs->status); VDB_EIO with a message when none did, or
 * the last of the retries still got a 5xx. rs->body is freed by the caller. */
vdb_status vdb_s3_perform(s3_store *s, const s3_request *rq, s3_response *rs, const char *what);
/* Sets the message for an answer that the caller does not accept and returns st. */
vdb_status vdb_s3_http_error(s3_store *s, vdb_status st, const s3_request *rq,
                             const s3_response *rs, const char *what);
void vdb_s3_response_free(s3_response *rs);

vdb_status vdb_s3_store_new(const char *uri, const vdb_backend_options *opt, s3_store **out);
void vdb_s3_store_free(s3_store *s);
const s3_config *vdb_s3_store_config(const s3_store *s);

#endif

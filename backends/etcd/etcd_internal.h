/* Inside the etcd backend: the handle, the HTTP/JSON transport to etcd's v3 gateway, base64
 * and the request buffer. The only door between this folder's files. */
#ifndef VDB_ETCD_INTERNAL_H
#define VDB_ETCD_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"

#define ETCD_POOL_MAX 16          /* idle curl handles (open connections) kept per store */
#define ETCD_DEFAULT_TIMEOUT_MS 10000u
#define ETCD_MAX_KEY 4096u        /* as the local meta store, so both refuse the same keys */

typedef struct etcd {
    char *base;   /* "http://host:port" */
    char *where;  /* "etcd host:port", the start of every error message */
    char *prefix; /* "" or "<uri prefix>/": every key is stored under it */
    size_t plen;
    long timeout_ms;
    pthread_mutex_t mu; /* guards the pool */
    CURL *idle[ETCD_POOL_MAX];
    int nidle;
} etcd;

/* ---- request bodies: a growable byte buffer; oom is sticky and checked once at the end */
typedef struct ebuf {
    char *p;
    size_t len, cap;
    bool oom;
} ebuf;

void ebuf_free(ebuf *b);
void ebuf_put(ebuf *b, const void *s, size_t n);
void ebuf_str(ebuf *b, const char *s);
void ebuf_i64(ebuf *b, int64_t v);
/* Appends the base64 of the store prefix followed by key[0..n) as a JSON string. */
void ebuf_key(ebuf *b, const etcd *e, const char *key, size_t n);
void ebuf_b64(ebuf *b, const void *data, size_t n); /* a JSON string holding base64(data) */

/* ---- base64 (standard alphabet, padded) */
size_t etcd_b64_len(size_t n);
void etcd_b64_encode(char *out, const uint8_t *in, size_t n); /* writes etcd_b64_len(n) */
/* Decodes into a malloc'ed buffer, NUL-terminated past *n. false on bad input or no memory
 * (*oom tells which). */
bool etcd_b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *n, bool *oom);

/* ---- transport */
typedef enum etcd_retry {
    ETCD_RETRY_SAFE = 1, /* idempotent: retried after any transient failure */
    ETCD_RETRY_ONCE = 0, /* retried only when the request surely never reached the server;
                            otherwise an unknown outcome is reported (VDB_EIO) */
} etcd_retry;

/* POSTs body to base+path until it succeeds, fails for good, or the timeout passes.
 * VDB_OK: *out is the parsed JSON response (json_decref it). Errors: VDB_EIO (unreachable,
 * timeout, unknown outcome, bad response), VDB_EINVAL (refused as invalid), VDB_ENOTFOUND
 * (gRPC NotFound), VDB_ERANGE (gRPC OutOfRange: compacted or future revision). */
vdb_status etcd_call(etcd *e, const char *path, const ebuf *body, etcd_retry retry,
                     json_t **out);

void etcd_global_init(void);
CURL *etcd_handle_get(etcd *e);
void etcd_handle_put(etcd *e, CURL *h);
/* The request headers (curl_slist_free_all them); NULL on no memory. */
struct curl_slist *etcd_headers(void);
/* A fresh handle for a long stream (watch), with the common options set. */
CURL *etcd_handle_new(void);

/* ---- JSON helpers: fields absent from a response mean their default (gRPC's mapping omits
 * zero values). */
int64_t etcd_json_i64(json_t *obj, const char *name);
/* The base64 field name decoded into a malloc'ed buffer (NUL-terminated past *n); absent is
 * empty. VDB_ECORRUPT on bad base64. */
vdb_status etcd_json_bytes(const etcd *e, json_t *obj, const char *name, uint8_t **out,
                           size_t *n);

vdb_status etcd_check_key(const char *key);

/* Appends "key":..,"range_end":.. selecting every stored key that starts with prefix (relative
 * to the store prefix), starting at the full key from[0..from_len) when from is not NULL. */
void etcd_range_of_prefix(ebuf *b, const etcd *e, const char *prefix, const void *from,
                          size_t from_len);

#endif

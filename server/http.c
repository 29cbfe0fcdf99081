/* vdb-server — the libmicrohttpd glue for REST (HTTP/1.1): TLS, auth, body cap, timeouts, and
 * handing each complete request to a worker lane while its connection is suspended. The port is
 * front.c's: it hands over the connections that speak HTTP/1.1 (MHD_add_connection). */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define API_PREFIX "/v2/vectordb"

struct srv_http {
    srv_ctx *ctx;
    struct MHD_Daemon *d;
    char *cert_pem, *key_pem;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;   /* requests begun and not completed (answered or dropped) */
    int stopping; /* quiesced: new requests get 503 and every answer closes its connection */
};

enum { RECEIVING, RUNNING, DONE };

typedef struct req_state {
    srv_http *h;
    struct MHD_Connection *conn;
    const srv_route *route;
    char *body;
    size_t len, cap;
    uint64_t start_ms;
    int phase;
    int too_large;
    unsigned status; /* HTTP status of the answer */
    char *resp;      /* the answer's body (JSON text) */
    size_t resp_len;
    char path[96];
} req_state;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_answer(req_state *rs, unsigned status, json_t *resp)
{
    free(rs->resp);
    rs->resp = srv_json_text(resp, &rs->resp_len);
    if (!rs->resp) { /* out of memory while printing: a fixed answer */
        rs->resp = strdup("{\"code\":3,\"message\":\"memory limit exceeded\"}");
        rs->resp_len = rs->resp ? strlen(rs->resp) : 0;
        status = 500;
    }
    rs->status = status;
    json_decref(resp);
}

static enum MHD_Result send_answer(req_state *rs)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(rs->resp_len, rs->resp,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    rs->resp = NULL; /* the response owns it now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    pthread_mutex_lock(&rs->h->mu);
    int stopping = rs->h->stopping;
    pthread_mutex_unlock(&rs->h->mu);
    if (stopping || rs->phase == RECEIVING) /* a body we did not read: do not reuse the link */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(rs->conn, rs->status, r);
    MHD_destroy_response(r);
    if (srv_log_enabled(SRV_LOG_DEBUG))
        srv_log(SRV_LOG_DEBUG, "POST %s -> %u in %llu ms", rs->path, rs->status,
                (unsigned long long)(now_ms() - rs->start_ms));
    return ret;
}

/* An answer decided before the body is read (auth, route, size): sent at once. */
static enum MHD_Result answer_now(req_state *rs, unsigned status, json_t *resp)
{
    set_answer(rs, status, resp);
    return send_answer(rs);
}

static int token_ok(const srv_http *h, struct MHD_Connection *conn)
{
    const char *want = h->ctx->cfg->token;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7))
        return 0;
    auth += 7;
    while (*auth == ' ')
        auth++;
    size_t a = strlen(auth), w = strlen(want);
    unsigned diff = (unsigned)(a ^ w); /* compare in time independent of where they differ */
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned char)auth[i] ^ (unsigned char)want[i % (w ? w : 1)];
    return diff == 0;
}

/* What the request's framing headers say (every copy of a header: MHD keeps duplicates). */
typedef struct framing {
    int n_cl, cl_bad, cl_differ, n_te;
    unsigned long long cl;
    char te[64]; /* the Transfer-Encoding values, joined */
    int te_long;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    framing *f = cls;
    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        /* only digits (no sign, no list): anything else is a different length to a proxy */
        size_t n = strspn(value, "0123456789");
        errno = 0;
        unsigned long long v = strtoull(value, NULL, 10);
        if (!n || value[n] || errno == ERANGE)
            f->cl_bad = 1;
        else if (f->n_cl && v != f->cl)
            f->cl_differ = 1;
        f->cl = v;
        f->n_cl++;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        size_t have = strlen(f->te);
        if (have + strlen(value) + 3 > sizeof f->te)
            f->te_long = 1;
        else
            snprintf(f->te + have, sizeof f->te - have, "%s%s", have ? ", " : "", value);
        f->n_te++;
    }
    return MHD_YES;
}

/* The body's framing is one a proxy in front reads the same way (RFC 9112 6.1-6.3): one
 * Content-Length, or Transfer-Encoding "chunked" alone; else the answer (a close follows). */
static enum MHD_Result check_framing(req_state *rs, struct MHD_Connection *conn, int *refused)
{
    framing f = {0};
    *refused = 1;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.cl_bad)
        return answer_now(rs, MHD_HTTP_BAD_REQUEST,
                          srv_err(MV_PARAMETER_INVALID, "invalid parameter: the Content-Length "
                                  "header is not a decimal number of bytes"));
    if (f.cl_differ)
        return answer_now(rs, MHD_HTTP_BAD_REQUEST,
                          srv_err(MV_PARAMETER_INVALID, "invalid parameter: the request has %d "
                                  "Content-Length headers that disagree", f.n_cl));
    if (f.n_te && f.n_cl)
        return answer_now(rs, MHD_HTTP_BAD_REQUEST,
                          srv_err(MV_PARAMETER_INVALID, "invalid parameter: the request has "
                                  "both Transfer-Encoding and Content-Length"));
    if (f.n_te) {
        const char *v = f.te + strspn(f.te, " \t");
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (f.te_long || n != 7 || strncasecmp(v, "chunked", 7))
            return answer_now(rs, MHD_HTTP_NOT_IMPLEMENTED,
                              srv_err(MV_OPERATION_NOT_SUPPORTED, "operation not supported: "
                                      "Transfer-Encoding '%.40s%s': only 'chunked' is",
                                      f.te, f.te_long ? "..." : ""));
    }
    *refused = 0;
    return MHD_YES;
}

static void run_request(void *arg)
{
    req_state *rs = arg;
    json_t *resp = srv_dispatch(rs->h->ctx, rs->route, rs->body, rs->len);
    free(rs->body);
    rs->body = NULL;
    set_answer(rs, MHD_HTTP_OK, resp); /* Milvus answers errors with HTTP 200 too */
    rs->phase = DONE;
    MHD_resume_connection(rs->conn); /* its lock orders the writes above before the send */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    srv_http *h = cls;
    const srv_config *cfg = h->ctx->cfg;
    req_state *rs = *con_cls;
    if (!rs) { /* the headers are in; the body is not read yet */
        if (!(rs = calloc(1, sizeof *rs)))
            return MHD_NO;
        rs->h = h;
        rs->conn = conn;
        rs->start_ms = now_ms();
        snprintf(rs->path, sizeof rs->path, "%s", url);
        *con_cls = rs;
        pthread_mutex_lock(&h->mu);
        h->active++;
        int stopping = h->stopping;
        pthread_mutex_unlock(&h->mu);
        if (!strcmp(url, "/healthz") && !strcmp(method, "GET")) {
            /* as Milvus's health check: no auth, plain "OK" */
            rs->resp = strdup("OK");
            rs->resp_len = 2;
            rs->status = stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
            return send_answer(rs);
        }
        if (stopping)
            return answer_now(rs, MHD_HTTP_SERVICE_UNAVAILABLE,
                              srv_err(2, "service unavailable: the server is shutting down"));
        if (strcmp(method, "POST"))
            return answer_now(rs, MHD_HTTP_METHOD_NOT_ALLOWED,
                              srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s %s: the API "
                                      "takes POST with a JSON body", method, url));
        if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) ||
            !(rs->route = srv_route_find(url + strlen(API_PREFIX))))
            return answer_now(rs, MHD_HTTP_NOT_FOUND,
                              srv_err(MV_PARAMETER_INVALID, "invalid parameter: no endpoint %s "
                                      "(see server/README.md)", url));
        if (cfg->token && !token_ok(h, conn)) /* before the body: touches nothing */
            return answer_now(rs, MHD_HTTP_UNAUTHORIZED,
                              srv_err(MV_NEED_AUTHENTICATE, "user hasn't authenticated"));
        int refused;
        enum MHD_Result fr = check_framing(rs, conn, &refused);
        if (refused)
            return fr;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > cfg->max_body)
            return answer_now(rs, MHD_HTTP_CONTENT_TOO_LARGE,
                              srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the request "
                                      "body is %s bytes, the limit is %llu (--max-body)", cl,
                                      (unsigned long long)cfg->max_body));
        return MHD_YES;
    }
    if (rs->phase == DONE)
        return send_answer(rs);
    if (rs->phase != RECEIVING)
        return MHD_YES;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (now_ms() - rs->start_ms > (uint64_t)cfg->request_timeout * 1000) {
            srv_log(SRV_LOG_WARN, "closing a connection: its request took over %d s to arrive",
                    cfg->request_timeout);
            return MHD_NO;
        }
        if (rs->too_large)
            return MHD_YES; /* discarded */
        if (rs->len + n > cfg->max_body) { /* a chunked body that grew past the cap */
            free(rs->body);
            rs->body = NULL;
            rs->len = rs->cap = 0;
            rs->too_large = 1;
            return MHD_YES;
        }
        if (rs->len + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 4096;
            while (cap < rs->len + n)
                cap *= 2;
            if (cap > cfg->max_body)
                cap = cfg->max_body;
            char *nb = realloc(rs->body, cap);
            if (!nb)
                return MHD_NO;
            rs->body = nb;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, n);
        rs->len += n;
        return MHD_YES;
    }
    /* the whole body is in */
    if (rs->too_large) {
        rs->phase = DONE;
        return answer_now(rs, MHD_HTTP_CONTENT_TOO_LARGE,
                          srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the request "
                                  "body is over the limit of %llu bytes (--max-body)",
                                  (unsigned long long)cfg->max_body));
    }
    rs->phase = RUNNING;
    MHD_suspend_connection(conn); /* before the job can resume it */
    if (srv_pool_submit(rs->route->is_write ? h->ctx->writes : h->ctx->reads, run_request, rs) != 0) {
        set_answer(rs, MHD_HTTP_SERVICE_UNAVAILABLE,
                   srv_err(2, "service unavailable: the server is shutting down"));
        rs->phase = DONE;
        MHD_resume_connection(conn);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv_http *h = cls;
    req_state *rs = *con_cls;
    if (!rs)
        return;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        srv_log(SRV_LOG_WARN, "timed out a connection that stalled mid-request (%s)", rs->path);
    free(rs->body);
    free(rs->resp);
    free(rs);
    *con_cls = NULL;
    pthread_mutex_lock(&h->mu);
    h->active--;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Every connection MHD closes frees a slot of the cap front.c counts. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv_http *h = cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        srv_conns_close(h->ctx->conns);
}

void srv_http_add_connection(srv_http *h, int fd, const struct sockaddr *addr, socklen_t len)
{
    /* on failure MHD has closed the socket and never announced the connection */
    if (MHD_add_connection(h->d, fd, addr, len) != MHD_YES) {
        srv_log(SRV_LOG_WARN, "cannot take an HTTP/1.1 connection: %s", strerror(errno));
        srv_conns_close(h->ctx->conns);
    }
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    srv_log(SRV_LOG_DEBUG, "http: %s", msg);
}

srv_http *srv_http_start(srv_ctx *ctx)
{
    const srv_config *cfg = ctx->cfg;
    srv_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ctx = ctx;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    if (cfg->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            srv_log(SRV_LOG_ERROR, "this libmicrohttpd has no TLS support: --tls-cert cannot "
                                   "be served");
            goto fail;
        }
        if (!(h->cert_pem = srv_read_file(cfg->tls_cert)) ||
            !(h->key_pem = srv_read_file(cfg->tls_key)))
            goto fail;
        flags |= MHD_USE_TLS;
    }

    struct MHD_OptionItem opts[16];
    int n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL};
    /* the cap is front.c's (shared with gRPC); MHD's own only guards against a bug there */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns + 16, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL};
    if (cfg->io_threads > 1)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->io_threads, NULL};
    if (h->cert_pem) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!h->d) {
        srv_log(SRV_LOG_ERROR, "cannot start the HTTP/1.1 front (a bad TLS certificate/key?)");
        goto fail;
    }
    return h;
fail:
    free(h->cert_pem);
    free(h->key_pem);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
    return NULL;
}

void srv_http_quiesce(srv_http *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_mutex_unlock(&h->mu);
}

int srv_http_drain(srv_http *h, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&h->mu);
    while (h->active > 0)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT)
            break;
    int left = h->active;
    pthread_mutex_unlock(&h->mu);
    return left;
}

void srv_http_stop(srv_http *h)
{
    if (!h)
        return;
    /* the pools were stopped first: requests handed to a worker have resumed their
     * connections */
    MHD_stop_daemon(h->d);
    free(h->cert_pem);
    free(h->key_pem);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

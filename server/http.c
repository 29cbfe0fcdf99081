/* vdb-server — REST over HTTP/1.1: event loops that own the connections front.c hands over
 * (GnuTLS under TLS), the request parser, the limits (head and body size, idle and slow
 * requests), and handing each complete request to a worker lane. The parser is ours so that
 * every answer, also to HTTP it cannot read (400, 413, 414, 431, 501, 505), is Milvus's JSON
 * {"code", "message"}, and so that framing a proxy could read otherwise is refused at once:
 * two Content-Length headers that disagree, Transfer-Encoding with Content-Length, a
 * Transfer-Encoding other than "chunked", a chunk size past the body cap (RFC 9112 6.1-6.3).
 *
 * One request at a time per connection: while a worker runs it the connection is not read
 * (pipelined requests wait in the socket), then the answer is written and the next request
 * parsed. An answer given before the body is read closes the connection: the connection's
 * bytes are not read as a request of their own. The event loops, TLS and draining are
 * loop.c's: a worker that finishes queues the connection on its loop's done list. With
 * --authorization 1 a password not verified before waits for its PBKDF2 on a worker (C_AUTH),
 * never on the loop. srv_http_feed (the end of the file) runs one connection through the same
 * code without a socket or workers, for tests/fuzz/fuzz_http.c. */
#include <errno.h>
#include <limits.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "secret.h"

#define API_PREFIX "/v2/vectordb"
#define WEBUI_API "/webui/api" /* the web page's own routes (router.c) */
#define READ_CHUNK (64 * 1024)
#define HEAD_MAX (64 * 1024) /* request line and headers (431 past it) */
#define LINE_MAX_REQ 8192     /* the request line (414 past it) */
#define AUTH_MAX 1024
#define CHUNK_LINE_MAX 1024   /* a chunk-size line with its extensions */
#define TRAILER_MAX 8192
#define LINGER_MS 2000        /* reading what a refused client still sends, before the close */

/* C_AUTH: the head is read, its password waits for the PBKDF2 on a worker (not read) */
enum { C_HEAD, C_BODY, C_RUNNING, C_WRITE, C_LINGER, C_AUTH };
enum { P_NONE, P_REQUEST, P_AUTH }; /* what srv_http_feed's connection handed over */
enum { K_SIZE, K_DATA, K_DATA_END, K_TRAILER };

typedef struct hconn {
    srv_lconn lc; /* first: the loop's part (fd, tls, dead, running: on a worker) */
    int state;
    int counted;  /* in the loops' active: a request begun and not yet answered */
    uint64_t last_io_ms, start_ms, linger_ms;
    /* bytes read and not yet consumed */
    char *in;
    size_t in_len, in_cap;
    size_t scanned; /* of in, searched for the head's end (a slow head is not searched again) */
    /* the request */
    char method[16];
    char path[96];
    int minor;          /* HTTP/1.minor */
    int keep_alive;
    int chunked, kstate;
    uint64_t remaining; /* of the Content-Length body, or of the current chunk */
    size_t trailer_len;
    const srv_route *route;
    char user[64];            /* --authorization 1: the request's user */
    char *body;
    size_t len, cap;
    /* the answer */
    char *out;
    size_t out_len, out_off;
    int close_after;
    unsigned status;
    json_t *resp;       /* set by the worker */
    srv_done done;
    struct http_sink *sink; /* srv_http_feed's connection: no socket, no worker (else NULL) */
    /* --authorization 1, a password the PBKDF2 checks (C_AUTH): it, the answer, and what the
     * head said of the body for when it is admitted */
    char pw[AUTH_MAX];
    int auth_ok;
    unsigned long long head_cl;
    int head_expect, head_expect_other, head_has_body;
} hconn;

/* What srv_http_feed gives a connection instead of a socket and a worker lane: the bytes
 * written go to out, a complete request waits (pending) for the caller's answer. */
typedef struct http_sink {
    char *out;
    size_t out_len, out_cap;
    int oom;
    int pending; /* P_REQUEST: body_complete handed over a request; P_AUTH: a password */
} http_sink;

static srv_ctx *ctx_of(const hconn *c)
{
    return c->lc.lp->ls->ctx;
}

static void count_request(hconn *c, int d)
{
    if ((d > 0) == (c->counted != 0))
        return;
    c->counted = d > 0;
    srv_loops_active_add(c->lc.lp->ls, d);
}

/* ---- the loop's callbacks (and conn_close, conn_free_if_done for this file) ------------ */

static void on_close(srv_lconn *lc)
{
    count_request((hconn *)lc, -1);
}

static void conn_set_events(hconn *c, int events)
{
    if (c->sink)
        c->lc.events = events;
    else
        srv_lconn_set_events(&c->lc, events);
}

static void conn_close(hconn *c)
{
    if (!c->sink) {
        srv_lconn_close(&c->lc);
    } else if (!c->lc.dead) {
        c->lc.dead = 1;
        on_close(&c->lc);
    }
}

static void conn_free_if_done(hconn *c)
{
    if (!c->sink) /* srv_http_feed frees its own */
        srv_lconn_free_if_done(&c->lc);
}

/* Sends bytes: as srv_lconn_write (-1 with errno), or into the sink. */
static ssize_t conn_write(hconn *c, const char *p, size_t n)
{
    http_sink *k = c->sink;
    if (!k)
        return srv_lconn_write(&c->lc, p, n);
    if (k->out_len + n > k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap : 4096;
        while (cap < k->out_len + n)
            cap *= 2;
        char *nb = realloc(k->out, cap);
        if (!nb) {
            k->oom = 1;
            errno = ENOMEM;
            return -1;
        }
        k->out = nb;
        k->out_cap = cap;
    }
    memcpy(k->out + k->out_len, p, n);
    k->out_len += n;
    return (ssize_t)n;
}

static void on_free(srv_lconn *lc)
{
    hconn *c = (hconn *)lc;
    explicit_bzero(c->pw, sizeof c->pw);
    free(c->in);
    free(c->body);
    free(c->out);
    json_decref(c->resp);
}

/* ---- answers -------------------------------------------------------------------------------- */

static const char *reason(unsigned status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Appends raw bytes to the output; -1 when out of memory. */
static int out_add(hconn *c, const char *p, size_t n)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0; /* all written before: start over */
    if (!n)
        return 0;
    char *nb = realloc(c->out, c->out_len + n);
    if (!nb)
        return -1;
    c->out = nb;
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

/* Queues a whole answer: the status line, headers (extra: more header lines, each ending in
 * CRLF), the body unless with_body is 0 (HEAD: the headers of a GET alone). */
static int queue_answer_h(hconn *c, unsigned status, const char *type, const char *extra,
                          const char *body, size_t len, int with_body)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n%s%s\r\n", status, reason(status), type, len,
                     extra, c->close_after ? "Connection: close\r\n"
                     : c->minor == 0 ? "Connection: keep-alive\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head || out_add(c, head, (size_t)n) ||
        (with_body && out_add(c, body, len)))
        return -1;
    c->status = status;
    if (srv_log_enabled(SRV_LOG_DEBUG))
        srv_log(SRV_LOG_DEBUG, "%s %s -> %u in %llu ms", c->method[0] ? c->method : "?",
                c->path[0] ? c->path : "?", status,
                (unsigned long long)(srv_now_ms() - c->start_ms));
    return 0;
}

static int queue_answer(hconn *c, unsigned status, const char *type, const char *body,
                        size_t len)
{
    return queue_answer_h(c, status, type, "", body, len, 1);
}

static int queue_json(hconn *c, unsigned status, json_t *resp)
{
    size_t len = 0;
    char *text = srv_json_text(resp, &len);
    json_decref(resp);
    int rc;
    if (!text) {
        static const char oom[] = "{\"code\":3,\"message\":\"memory limit exceeded\"}";
        c->close_after = 1;
        rc = queue_answer(c, 500, "application/json", oom, sizeof oom - 1);
    } else {
        rc = queue_answer(c, status, "application/json", text, len);
    }
    free(text);
    return rc;
}

/* An answer given before (or instead of) reading the request's body: then the connection
 * closes, as nothing says where the next request would begin. */
static void refuse(hconn *c, unsigned status, json_t *resp)
{
    c->close_after = 1;
    free(c->body);
    c->body = NULL;
    c->len = c->cap = 0;
    c->in_len = 0; /* what follows is not read */
    if (queue_json(c, status, resp) != 0) {
        conn_close(c);
        return;
    }
    c->state = C_WRITE;
}

/* ---- the request head ----------------------------------------------------------------------- */

static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

typedef struct head_info {
    int n_cl, cl_bad, cl_differ;
    unsigned long long cl;
    int n_te;
    char te[64];
    int te_long;
    int conn_close, conn_keep;
    int expect, expect_other;
    char auth[AUTH_MAX];
    int auth_set, auth_long;
} head_info;

static void trim(const char **v, size_t *n)
{
    while (*n && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*n)--;
    }
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

/* 1 if the comma-separated list v[0..n) holds token (case-insensitive). */
static int list_has(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t part = comma ? (size_t)(comma - v) : n;
        const char *p = v;
        size_t pn = part;
        trim(&p, &pn);
        if (pn == tl && !strncasecmp(p, token, tl))
            return 1;
        if (!comma)
            break;
        v += part + 1;
        n -= part + 1;
    }
    return 0;
}

static void header_seen(head_info *hi, const char *name, size_t nl, const char *v, size_t vn)
{
#define IS(s) (nl == sizeof(s) - 1 && !strncasecmp(name, s, nl))
    if (IS("content-length")) {
        size_t d = 0;
        unsigned long long x = 0;
        int over = 0;
        for (; d < vn && v[d] >= '0' && v[d] <= '9'; d++) {
            if (x > (ULLONG_MAX - (unsigned)(v[d] - '0')) / 10)
                over = 1;
            else
                x = x * 10 + (unsigned)(v[d] - '0');
        }
        /* only digits (no sign, no list): anything else is a different length to a proxy */
        if (!d || d != vn || over)
            hi->cl_bad = 1;
        else if (hi->n_cl && x != hi->cl)
            hi->cl_differ = 1;
        hi->cl = x;
        hi->n_cl++;
    } else if (IS("transfer-encoding")) {
        size_t have = strlen(hi->te);
        if (have + vn + 3 > sizeof hi->te)
            hi->te_long = 1;
        else
            snprintf(hi->te + have, sizeof hi->te - have, "%s%.*s", have ? ", " : "", (int)vn,
                     v);
        hi->n_te++;
    } else if (IS("connection")) {
        hi->conn_close |= list_has(v, vn, "close");
        hi->conn_keep |= list_has(v, vn, "keep-alive");
    } else if (IS("expect")) {
        if (vn == 12 && !strncasecmp(v, "100-continue", 12))
            hi->expect = 1;
        else
            hi->expect_other = 1;
    } else if (IS("authorization")) {
        if (vn >= sizeof hi->auth) {
            hi->auth_long = 1;
        } else {
            memcpy(hi->auth, v, vn);
            hi->auth[vn] = 0;
        }
        hi->auth_set = 1;
    }
#undef IS
}

static int token_ok(const srv_config *cfg, const head_info *hi)
{
    const char *want = cfg->token, *auth = hi->auth;
    if (!hi->auth_set || hi->auth_long || strncasecmp(auth, "Bearer ", 7))
        return 0;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return srv_secret_eq(auth, strlen(auth), want, strlen(want));
}

/* --authorization 1: "Bearer user:password" of a user of the database, the name into user.
 * 1 it is (the password last verified for the user: one HMAC), 0 it is not, -1 the PBKDF2
 * must tell (the password into pw, for auth_start: not on the event loop). */
static int user_check(srv_ctx *ctx, const head_info *hi, char *user, size_t un, char *pw,
                      size_t pn)
{
    const char *auth = hi->auth;
    if (!hi->auth_set || hi->auth_long || strncasecmp(auth, "Bearer ", 7))
        return 0;
    auth += 7;
    while (*auth == ' ')
        auth++;
    const char *colon = strchr(auth, ':');
    if (!colon || (size_t)(colon - auth) >= un || strlen(colon + 1) >= pn)
        return 0;
    memcpy(user, auth, (size_t)(colon - auth));
    user[colon - auth] = 0;
    int need_full = 0;
    if (vdb_authenticate_cached(ctx->db, user, colon + 1, &need_full) == VDB_OK)
        return 1;
    if (!need_full)
        return 0;
    snprintf(pw, pn, "%s", colon + 1);
    return -1;
}

static json_t *bad_http(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *bad_http(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return srv_err(MV_PARAMETER_INVALID, "invalid parameter: malformed HTTP request: %s", msg);
}

/* GET or HEAD of a /webui file, answered at once (no auth: the page asks for the token, and
 * its data calls need it). */
static void serve_file(hconn *c, const srv_asset *a, int has_body)
{
    int head = !strcmp(c->method, "HEAD");
    if (!head && strcmp(c->method, "GET")) {
        refuse(c, 405, srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s %s: the web page "
                               "takes GET", c->method, c->path));
        return;
    }
    if (!a) {
        refuse(c, 404, srv_err(MV_PARAMETER_INVALID, "invalid parameter: no file %s in the web "
                               "page (server/webui)", c->path));
        return;
    }
    if (has_body)
        c->close_after = 1; /* a GET's body is not read */
    if (queue_answer_h(c, 200, srv_webui_type(a), srv_webui_headers, (const char *)a->data,
                       a->len, !head) != 0) {
        conn_close(c);
        return;
    }
    c->state = C_WRITE;
}

static void head_admitted(hconn *c);
static void auth_start(hconn *c);
static void process(hconn *c);
static void conn_progress(hconn *c);

/* Parses the head in c->in[0..end) (end: just past the blank line) and decides: an answer at
 * once, or the body next (or first the PBKDF2 of its password: auth_start). */
static void begin_request(hconn *c, size_t end)
{
    const srv_config *cfg = ctx_of(c)->cfg;
    char *p = c->in, *stop = c->in + end;
    head_info hi;
    memset(&hi, 0, sizeof hi);
    c->method[0] = c->path[0] = 0;
    count_request(c, +1);
    /* the request line: method SP target SP HTTP/1.x */
    char *eol = memchr(p, '\n', (size_t)(stop - p));
    size_t ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r')
        ll--;
    size_t m = 0;
    while (m < ll && is_tchar((unsigned char)p[m]))
        m++;
    if (!m || m >= ll || p[m] != ' ' || m >= sizeof c->method) {
        refuse(c, 400, bad_http("the request line is not 'METHOD /path HTTP/1.1'"));
        return;
    }
    memcpy(c->method, p, m);
    c->method[m] = 0;
    size_t t = m + 1, te = t;
    while (te < ll && (unsigned char)p[te] > ' ' && p[te] != 0x7f)
        te++;
    if (te == t || te >= ll || p[te] != ' ' || ll - te - 1 != 8 || strncmp(p + te + 1, "HTTP/", 5) ||
        p[te + 6] < '0' || p[te + 6] > '9' || p[te + 7] != '.' || p[te + 8] < '0' ||
        p[te + 8] > '9') {
        refuse(c, 400, bad_http("the request line is not 'METHOD /path HTTP/1.1'"));
        return;
    }
    snprintf(c->path, sizeof c->path, "%.*s", (int)(te - t), p + t);
    if (p[te + 6] != '1') {
        refuse(c, 505, srv_err(MV_PARAMETER_INVALID, "invalid parameter: HTTP version "
                               "%.8s is not supported: HTTP/1.0, HTTP/1.1 (and HTTP/2 for "
                               "gRPC) are", p + te + 1));
        return;
    }
    c->minor = p[te + 8] - '0';
    size_t target_len = te - t;
    char target[LINE_MAX_REQ + 1];
    memcpy(target, p + t, target_len);
    target[target_len] = 0;
    target[strcspn(target, "?")] = 0; /* the path: a query string names nothing here */
    /* the header fields */
    for (p = eol + 1; p < stop;) {
        eol = memchr(p, '\n', (size_t)(stop - p));
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (!n)
            break; /* the blank line */
        if (p[0] == ' ' || p[0] == '\t') {
            refuse(c, 400, bad_http("a header line folded onto the next (obsolete line "
                                    "folding)"));
            return;
        }
        size_t k = 0;
        while (k < n && is_tchar((unsigned char)p[k]))
            k++;
        if (!k || k >= n || p[k] != ':') {
            refuse(c, 400, bad_http("a header line is not 'Name: value'"));
            return;
        }
        const char *v = p + k + 1;
        size_t vn = n - k - 1;
        for (size_t i = 0; i < vn; i++)
            if (((unsigned char)v[i] < ' ' && v[i] != '\t') || v[i] == 0x7f) {
                refuse(c, 400, bad_http("header %.*s holds a control character", (int)k, p));
                return;
            }
        trim(&v, &vn);
        header_seen(&hi, p, k, v, vn);
        p = eol + 1;
    }
    /* the body's framing, before anything else: a proxy in front must read it the same way */
    if (hi.cl_bad) {
        refuse(c, 400, srv_err(MV_PARAMETER_INVALID, "invalid parameter: the Content-Length "
                               "header is not a decimal number of bytes"));
        return;
    }
    if (hi.cl_differ) {
        refuse(c, 400, srv_err(MV_PARAMETER_INVALID, "invalid parameter: the request has %d "
                               "Content-Length headers that disagree", hi.n_cl));
        return;
    }
    if (hi.n_te && hi.n_cl) {
        refuse(c, 400, srv_err(MV_PARAMETER_INVALID, "invalid parameter: the request has both "
                               "Transfer-Encoding and Content-Length"));
        return;
    }
    if (hi.n_te) {
        const char *v = hi.te;
        size_t n = strlen(v);
        trim(&v, &n);
        if (hi.te_long || n != 7 || strncasecmp(v, "chunked", 7)) {
            refuse(c, 501, srv_err(MV_OPERATION_NOT_SUPPORTED, "operation not supported: "
                                   "Transfer-Encoding '%.40s%s': only 'chunked' is", hi.te,
                                   hi.te_long ? "..." : ""));
            return;
        }
        if (c->minor == 0) {
            refuse(c, 400, srv_err(MV_PARAMETER_INVALID, "invalid parameter: "
                                   "Transfer-Encoding in an HTTP/1.0 request"));
            return;
        }
    }
    c->chunked = hi.n_te > 0;
    c->kstate = K_SIZE;
    c->remaining = c->chunked ? 0 : hi.cl;
    c->trailer_len = 0;
    int has_body = c->chunked || hi.cl > 0;
    c->keep_alive = c->minor >= 1 ? !hi.conn_close : hi.conn_keep && !hi.conn_close;
    c->close_after = !c->keep_alive;
    int quiesced = srv_loops_stopping(c->lc.lp->ls);
    if (!strcmp(c->method, "GET") && !strcmp(target, "/healthz")) {
        /* as Milvus's health check: no auth, plain "OK" */
        if (has_body || quiesced)
            c->close_after = 1;
        if (queue_answer(c, quiesced ? 503 : 200, "text/plain", "OK", 2) != 0) {
            conn_close(c);
            return;
        }
        c->state = C_WRITE;
        return;
    }
    if (quiesced) {
        refuse(c, 503, srv_err(2, "service unavailable: the server is shutting down"));
        return;
    }
    int is_webui = 0;
    const srv_asset *asset = srv_webui_find(target, &is_webui);
    int webui_api = is_webui && !strncmp(target, WEBUI_API, strlen(WEBUI_API)) &&
                    (!target[strlen(WEBUI_API)] || target[strlen(WEBUI_API)] == '/');
    if (is_webui && !webui_api) {
        serve_file(c, asset, has_body);
        return;
    }
    if (strcmp(c->method, "POST")) {
        refuse(c, 405, srv_err(MV_PARAMETER_INVALID, "invalid parameter: %s %s: the API takes "
                               "POST with a JSON body", c->method, c->path));
        return;
    }
    c->route = webui_api ? srv_webui_route_find(target + strlen(WEBUI_API))
               : !strncmp(target, API_PREFIX, strlen(API_PREFIX))
                   ? srv_route_find(target + strlen(API_PREFIX))
                   : NULL;
    if (!c->route) {
        refuse(c, 404, srv_err(MV_PARAMETER_INVALID, "invalid parameter: no endpoint %s (see "
                               "server/README.md)", c->path));
        return;
    }
    c->head_cl = hi.cl;
    c->head_expect = hi.expect;
    c->head_expect_other = hi.expect_other;
    c->head_has_body = has_body;
    if (cfg->authorization) { /* before the body */
        int a = user_check(ctx_of(c), &hi, c->user, sizeof c->user, c->pw, sizeof c->pw);
        if (a < 0) {
            auth_start(c);
            return;
        }
        if (!a) {
            refuse(c, 401, srv_err(MV_NEED_AUTHENTICATE, "user hasn't authenticated"));
            return;
        }
    } else if (cfg->token && !token_ok(cfg, &hi)) {
        refuse(c, 401, srv_err(MV_NEED_AUTHENTICATE, "user hasn't authenticated"));
        return;
    }
    head_admitted(c);
}

/* The head is accepted (auth included): the body next, or a refusal of its size or Expect. */
static void head_admitted(hconn *c)
{
    const srv_config *cfg = ctx_of(c)->cfg;
    unsigned long long cl = c->head_cl;
    if (!c->chunked && cl > cfg->max_body) {
        refuse(c, 413, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the request body "
                               "is %llu bytes, the limit is %llu (--max-body)", cl,
                               (unsigned long long)cfg->max_body));
        return;
    }
    if (c->head_expect_other) {
        refuse(c, 417, srv_err(MV_PARAMETER_INVALID, "invalid parameter: the only Expect "
                               "understood is 100-continue"));
        return;
    }
    if (c->head_expect && c->minor >= 1 && c->head_has_body &&
        out_add(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
        conn_close(c);
        return;
    }
    if (!c->chunked && cl) {
        if (!(c->body = malloc(cl))) {
            refuse(c, 500, srv_err(MV_MEMORY_LIMIT, "memory limit exceeded"));
            return;
        }
        c->cap = cl;
    }
    c->len = 0;
    c->state = C_BODY;
}

/* ---- the PBKDF2 of a password, on a worker ---------------------------------------------- */

static void auth_check(hconn *c)
{
    c->auth_ok = vdb_authenticate(ctx_of(c)->db, c->user, c->pw) == VDB_OK;
    explicit_bzero(c->pw, sizeof c->pw);
}

static void run_auth(void *arg)
{
    hconn *c = arg;
    auth_check(c);
    srv_loop_finish(c->lc.lp, &c->done);
}

/* The connection is not read while a worker runs the PBKDF2 (on the reads lane: a wrong
 * password costs the same as a right one, on a worker, and the loop's other connections go
 * on); on_done goes on with auth_done. */
static void auth_start(hconn *c)
{
    srv_ctx *ctx = ctx_of(c);
    c->state = C_AUTH;
    c->lc.running = 1;
    conn_set_events(c, c->out_off < c->out_len ? EPOLLOUT : 0);
    if (c->sink) {
        c->sink->pending = P_AUTH;
        return;
    }
    if (srv_pool_submit(ctx->reads, run_auth, c)) {
        c->lc.running = 0;
        explicit_bzero(c->pw, sizeof c->pw);
        refuse(c, 503, srv_err(2, "service unavailable: the server is shutting down"));
    }
}

/* The PBKDF2's answer (on the loop): 401, or the request goes on with the bytes after its
 * head, which wait in c->in. */
static void auth_done(hconn *c)
{
    if (c->lc.dead)
        return;
    if (!c->auth_ok) {
        refuse(c, 401, srv_err(MV_NEED_AUTHENTICATE, "user hasn't authenticated"));
    } else {
        head_admitted(c);
        if (!c->lc.dead && c->state == C_BODY)
            process(c);
    }
    if (!c->lc.dead)
        conn_progress(c);
}

/* ---- the body ------------------------------------------------------------------------------- */

static int body_add(hconn *c, const char *p, size_t n)
{
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n)
            cap *= 2;
        char *nb = realloc(c->body, cap);
        if (!nb)
            return -1;
        c->body = nb;
        c->cap = cap;
    }
    memcpy(c->body + c->len, p, n);
    c->len += n;
    return 0;
}

static void run_request(void *arg)
{
    hconn *c = arg;
    c->resp = srv_dispatch(ctx_of(c), c->route, c->user, c->body, c->len);
    srv_loop_finish(c->lc.lp, &c->done);
}

static void body_complete(hconn *c)
{
    srv_ctx *ctx = ctx_of(c);
    c->state = C_RUNNING;
    c->lc.running = 1;
    conn_set_events(c, c->out_off < c->out_len ? EPOLLOUT : 0);
    if (c->sink) {
        c->sink->pending = P_REQUEST; /* srv_http_feed answers it, as a worker would */
        return;
    }
    if (srv_pool_submit(c->route->is_write ? ctx->writes : ctx->reads, run_request, c)) {
        c->lc.running = 0;
        refuse(c, 503, srv_err(2, "service unavailable: the server is shutting down"));
    }
}

/* Consumes body bytes from c->in; returns how many. Sets the state when the body is in or
 * the request is refused. */
static size_t take_body(hconn *c, const char *p, size_t n)
{
    const srv_config *cfg = ctx_of(c)->cfg;
    size_t used = 0;
    while (c->state == C_BODY) {
        if (!c->chunked) {
            size_t k = c->remaining < n - used ? (size_t)c->remaining : n - used;
            if (k && body_add(c, p + used, k) != 0) {
                refuse(c, 500, srv_err(MV_MEMORY_LIMIT, "memory limit exceeded"));
                return n;
            }
            used += k;
            c->remaining -= k;
            if (c->remaining == 0)
                body_complete(c);
            return used;
        }
        if (c->kstate == K_DATA) {
            size_t k = c->remaining < n - used ? (size_t)c->remaining : n - used;
            if (!k)
                return used;
            if (body_add(c, p + used, k) != 0) {
                refuse(c, 500, srv_err(MV_MEMORY_LIMIT, "memory limit exceeded"));
                return n;
            }
            used += k;
            c->remaining -= k;
            if (c->remaining == 0)
                c->kstate = K_DATA_END;
            continue;
        }
        /* the line-based parts: a chunk size, the CRLF after a chunk, the trailer lines */
        const char *eol = memchr(p + used, '\n', n - used);
        size_t avail = n - used;
        if (!eol) {
            size_t lim = c->kstate == K_TRAILER ? TRAILER_MAX : CHUNK_LINE_MAX;
            if (avail > lim || (c->kstate == K_DATA_END && avail >= 2))
                goto malformed;
            return used;
        }
        size_t ll = (size_t)(eol - (p + used));
        const char *line = p + used;
        used += ll + 1;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (c->kstate == K_DATA_END) {
            if (ll)
                goto malformed;
            c->kstate = K_SIZE;
        } else if (c->kstate == K_SIZE) {
            size_t d = 0;
            uint64_t size = 0;
            int over = 0;
            for (; d < ll; d++) {
                char ch = line[d];
                unsigned v = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
                           : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                           : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16u;
                if (v == 16)
                    break;
                if (size > (UINT64_MAX >> 4))
                    over = 1;
                else
                    size = size << 4 | v;
            }
            if (!d || (d < ll && line[d] != ';' && line[d] != ' ' && line[d] != '\t'))
                goto malformed;
            if (over || size > cfg->max_body - c->len) {
                refuse(c, 413, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: a chunk "
                                       "of %.*s bytes (hex) takes the request body over the "
                                       "limit of %llu bytes (--max-body)", (int)(d > 20 ? 20 : d),
                                       line, (unsigned long long)cfg->max_body));
                return n;
            }
            c->remaining = size;
            c->kstate = size ? K_DATA : K_TRAILER;
        } else { /* K_TRAILER: fields are read past; the blank line ends the body */
            c->trailer_len += ll + 2;
            if (c->trailer_len > TRAILER_MAX) {
                refuse(c, 431, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the "
                                       "trailer fields are over %d bytes", TRAILER_MAX));
                return n;
            }
            if (!ll)
                body_complete(c);
        }
    }
    return used;
malformed:
    refuse(c, 400, bad_http("bad chunked encoding"));
    return n;
}

/* ---- the connection's progress -------------------------------------------------------------- */

/* Parses what has arrived, as far as it goes. */
static void process(hconn *c)
{
    while (!c->lc.dead && (c->state == C_HEAD || c->state == C_BODY) && c->in_len) {
        if (c->state == C_HEAD) {
            /* blank lines before a request are skipped (RFC 9112 2.2) */
            size_t skip = 0;
            while (skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n'))
                skip++;
            if (skip) {
                memmove(c->in, c->in + skip, c->in_len - skip);
                c->in_len -= skip;
                continue;
            }
            if (!c->start_ms)
                c->start_ms = srv_now_ms();
            size_t end = 0;
            for (size_t i = c->scanned > 2 ? c->scanned - 2 : 0; i + 1 < c->in_len; i++) {
                if (c->in[i] == '\n' && c->in[i + 1] == '\n') {
                    end = i + 2;
                    break;
                }
                if (c->in[i] == '\n' && c->in[i + 1] == '\r' && i + 2 < c->in_len &&
                    c->in[i + 2] == '\n') {
                    end = i + 3;
                    break;
                }
            }
            const char *nl = memchr(c->in, '\n', c->in_len);
            if ((nl ? (size_t)(nl - c->in) : c->in_len) > LINE_MAX_REQ) {
                c->method[0] = c->path[0] = 0;
                count_request(c, +1);
                refuse(c, 414, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the "
                                       "request line is over %d bytes", LINE_MAX_REQ));
                return;
            }
            c->scanned = end ? 0 : c->in_len;
            if (!end) {
                if (c->in_len > HEAD_MAX) {
                    count_request(c, +1);
                    refuse(c, 431, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the "
                                           "request's header fields are over %d bytes",
                                           HEAD_MAX));
                }
                return; /* more to come */
            }
            if (end > HEAD_MAX) {
                count_request(c, +1);
                refuse(c, 431, srv_err(MV_PARAMETER_TOO_LARGE, "parameter too large: the "
                                       "request's header fields are over %d bytes", HEAD_MAX));
                return;
            }
            begin_request(c, end);
            if (c->lc.dead)
                return;
            if (c->state == C_WRITE) {
                if (!c->close_after && c->in_len >= end) { /* healthz: the rest is kept */
                    memmove(c->in, c->in + end, c->in_len - end);
                    c->in_len -= end;
                } else {
                    c->in_len = 0;
                }
                return;
            }
            memmove(c->in, c->in + end, c->in_len - end);
            c->in_len -= end;
            if (c->state == C_BODY && !c->chunked && c->remaining == 0)
                body_complete(c);
            continue;
        }
        size_t used = take_body(c, c->in, c->in_len);
        if (c->lc.dead)
            return;
        if (c->state == C_WRITE && c->close_after) {
            c->in_len = 0;
            return;
        }
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (!used)
            return;
    }
    /* a request without a body is complete with its head */
    if (!c->lc.dead && c->state == C_BODY && !c->chunked && c->remaining == 0)
        body_complete(c);
}

/* After an answer is written: the next request, or the close. */
static void answered(hconn *c)
{
    count_request(c, -1);
    if (c->close_after) {
        /* read what the client still sends for a while, so that closing with unread bytes
         * does not reset the connection before the client has read the answer */
        if (c->lc.tls)
            gnutls_bye(c->lc.tls, GNUTLS_SHUT_WR);
        if (!c->sink)
            shutdown(c->lc.fd, SHUT_WR);
        c->state = C_LINGER;
        c->linger_ms = srv_now_ms();
        conn_set_events(c, EPOLLIN);
        return;
    }
    free(c->body);
    c->body = NULL;
    c->len = c->cap = 0;
    c->route = NULL;
    c->start_ms = 0;
    c->method[0] = c->path[0] = 0;
    c->state = C_HEAD;
    conn_set_events(c, EPOLLIN);
    process(c);
}

/* Writes the pending output; -1 when the connection is broken. */
static int flush_out(hconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                conn_set_events(c, EPOLLOUT | (c->state == C_HEAD || c->state == C_BODY
                                                    ? EPOLLIN : 0));
                return 0;
            }
            return -1;
        }
        c->out_off += (size_t)w;
        c->last_io_ms = srv_now_ms();
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Writes, and moves on to the next request once an answer is out (each turn consumes one
 * request of what was read: it ends). */
static void conn_progress(hconn *c)
{
    while (!c->lc.dead) {
        if (flush_out(c) != 0) {
            conn_close(c);
            return;
        }
        if (c->out_off < c->out_len)
            return; /* waits for EPOLLOUT */
        if (c->state == C_WRITE) {
            answered(c);
            continue;
        }
        conn_set_events(c, c->state == C_RUNNING || c->state == C_AUTH ? 0 : EPOLLIN);
        return;
    }
}

/* 1 (logged) if the request's head is still arriving --header-timeout after its first byte:
 * a slowloris client, which trickles headers to hold the connection. */
static int head_too_slow(const hconn *c, const srv_config *cfg, uint64_t now)
{
    if (c->state != C_HEAD || !c->start_ms ||
        now - c->start_ms <= (uint64_t)cfg->header_timeout * 1000)
        return 0;
    srv_log(SRV_LOG_WARN, "closing a connection: its request's head took over %d s to arrive "
            "(--header-timeout)", cfg->header_timeout);
    return 1;
}

/* n bytes read from the connection (state C_HEAD, C_BODY or C_LINGER): parsed as far as they
 * go, and what that answers written. */
static void conn_input(hconn *c, const char *buf, size_t n)
{
    const srv_config *cfg = ctx_of(c)->cfg;
    c->last_io_ms = srv_now_ms();
    if (c->state == C_LINGER)
        return; /* discarded */
    if (c->start_ms && c->last_io_ms - c->start_ms > (uint64_t)cfg->request_timeout * 1000) {
        srv_log(SRV_LOG_WARN, "closing a connection: its request took over %d s to arrive",
                cfg->request_timeout);
        conn_close(c);
        return;
    }
    if (head_too_slow(c, cfg, c->last_io_ms)) {
        conn_close(c);
        return;
    }
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
        while (cap < c->in_len + n)
            cap *= 2;
        char *nb = realloc(c->in, cap);
        if (!nb) {
            conn_close(c);
            return;
        }
        c->in = nb;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, buf, n);
    c->in_len += n;
    process(c);
    if (c->lc.dead)
        return;
    conn_progress(c);
}

static void conn_read(hconn *c)
{
    char buf[READ_CHUNK];
    for (int round = 0; round < 16 && !c->lc.dead; round++) {
        if (c->state != C_HEAD && c->state != C_BODY && c->state != C_LINGER)
            return;
        ssize_t n = srv_lconn_read(&c->lc, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(c); /* gone (mid-request or between requests) */
            return;
        }
        if (c->state == C_LINGER) {
            c->last_io_ms = srv_now_ms();
            continue; /* discarded */
        }
        conn_input(c, buf, (size_t)n);
        if (c->lc.dead)
            return;
        if ((size_t)n < sizeof buf && !srv_lconn_pending(&c->lc))
            return;
    }
}

static void on_event(srv_lconn *lc, uint32_t ev)
{
    hconn *c = (hconn *)lc;
    if (c->lc.dead)
        return;
    if ((c->state == C_RUNNING || c->state == C_AUTH) && (ev & (EPOLLHUP | EPOLLERR))) {
        conn_close(c); /* reset while its request runs: the worker's answer is dropped */
        return;
    }
    if (c->lc.handshaking) {
        int rc = srv_lconn_handshake(&c->lc);
        if (rc < 0)
            conn_close(c);
        if (rc <= 0)
            return;
        c->last_io_ms = srv_now_ms();
    }
    conn_progress(c);
    if (!c->lc.dead)
        conn_read(c);
}

static int on_open(srv_lconn *lc)
{
    hconn *c = (hconn *)lc;
    c->last_io_ms = srv_now_ms();
    c->state = C_HEAD;
    return 0;
}

/* An answer a worker finished. */
static void on_done(srv_loop *lp, srv_done *d)
{
    hconn *c = (hconn *)((char *)d - offsetof(hconn, done));
    c->lc.running = 0;
    if (c->state == C_AUTH) {
        auth_done(c);
        conn_free_if_done(c);
        return;
    }
    json_t *resp = c->resp;
    c->resp = NULL;
    free(c->body);
    c->body = NULL;
    c->len = c->cap = 0;
    if (c->lc.dead) {
        json_decref(resp);
        conn_free_if_done(c);
        return;
    }
    if (srv_loops_stopping(lp->ls))
        c->close_after = 1;
    c->state = C_WRITE;
    if (queue_json(c, 200, resp) != 0) /* Milvus answers errors with HTTP 200 too */
        conn_close(c);
    else
        conn_progress(c);
    conn_free_if_done(c);
}

/* Closes connections idle or stalled for --timeout, slow requests, and lingering ones. */
static void on_sweep(srv_loop *lp, uint64_t now, int quiesce)
{
    (void)quiesce;
    const srv_config *cfg = lp->ls->ctx->cfg;
    uint64_t idle = (uint64_t)cfg->timeout * 1000;
    for (srv_lconn *lc = lp->conns, *next; lc; lc = next) {
        next = lc->next;
        hconn *c = (hconn *)lc;
        if (c->lc.dead || c->state == C_RUNNING || c->state == C_AUTH)
            continue;
        if (c->state == C_LINGER) {
            if (now - c->linger_ms > LINGER_MS || now - c->last_io_ms > idle) {
                conn_close(c);
                conn_free_if_done(c);
            }
            continue;
        }
        int mid = c->state == C_BODY || (c->state == C_HEAD && c->in_len);
        if (now - c->last_io_ms > idle) {
            if (mid)
                srv_log(SRV_LOG_WARN, "timed out a connection that stalled mid-request (%s)",
                        c->path[0] ? c->path : "in its head");
            else
                srv_log(SRV_LOG_DEBUG, "http: closing a connection idle for %d s",
                        cfg->timeout);
            conn_close(c);
            conn_free_if_done(c);
        } else if (mid && c->start_ms &&
                   now - c->start_ms > (uint64_t)cfg->request_timeout * 1000) {
            srv_log(SRV_LOG_WARN, "closing a connection: its request took over %d s to arrive",
                    cfg->request_timeout);
            conn_close(c);
            conn_free_if_done(c);
        } else if (mid && head_too_slow(c, cfg, now)) {
            conn_close(c);
            conn_free_if_done(c);
        }
    }
}

static int on_busy(srv_lconn *lc)
{
    hconn *c = (hconn *)lc;
    return c->out_off < c->out_len || c->counted;
}

static void on_flush(srv_lconn *lc)
{
    flush_out((hconn *)lc);
}

static const srv_loop_ops http_ops = {
    .name = "http",
    .proto = "HTTP/1.1",
    .alpn = "http/1.1",
    .conn_size = sizeof(hconn),
    .wait_ms = 250,
    .handshake_out = EPOLLOUT,
    .open = on_open,
    .event = on_event,
    .done = on_done,
    .flush = on_flush,
    .close = on_close,
    .free = on_free,
    .sweep = on_sweep,
    .busy = on_busy,
};

/* ---- the front's interface ------------------------------------------------------------------ */

srv_http *srv_http_start(srv_ctx *ctx)
{
    return srv_loops_start(ctx, &http_ops);
}

/* ---- without a socket (tests/fuzz/fuzz_http.c) ---------------------------------------------- */

int srv_http_feed(srv_ctx *ctx, const char *const *pieces, const size_t *lens, size_t n,
                  srv_http_answer_fn answer, void *arg, int quiesced, srv_http_fed *res)
{
    memset(res, 0, sizeof *res);
    srv_loops ls = {.ctx = ctx, .ops = &http_ops, .nloops = 1, .stopping = quiesced};
    srv_loop lp = {.ls = &ls, .ep = -1, .wake_fd = -1, .quiesce = quiesced};
    http_sink sink = {0};
    hconn *c = calloc(1, sizeof *c);
    if (!c || pthread_mutex_init(&ls.mu, NULL) != 0) {
        free(c);
        return -1;
    }
    pthread_cond_init(&ls.cv, NULL);
    c->lc.lp = &lp;
    c->lc.fd = -1;
    c->sink = &sink;
    lp.conns = &c->lc;
    on_open(&c->lc);
    for (size_t i = 0; i <= n && !c->lc.dead; i++) {
        /* the requests the connection handed over are answered (as a worker would) before
         * it reads again */
        while (sink.pending && !c->lc.dead) {
            int what = sink.pending;
            sink.pending = P_NONE;
            if (what == P_AUTH) {
                auth_check(c);
            } else {
                res->requests++;
                c->resp = answer(arg, c->route, c->user, c->body, c->len);
            }
            on_done(&lp, &c->done);
        }
        if (i == n || c->lc.dead)
            break;
        if (lens[i] && (c->state == C_HEAD || c->state == C_BODY || c->state == C_LINGER))
            conn_input(c, pieces[i], lens[i]);
    }
    res->closed = c->lc.dead || c->state == C_LINGER;
    res->state_head = !c->lc.dead && c->state == C_HEAD && !c->in_len;
    conn_close(c); /* the client goes */
    res->active = ls.active;
    res->oom = sink.oom;
    res->out = sink.out;
    res->out_len = sink.out_len;
    on_free(&c->lc);
    free(c);
    pthread_cond_destroy(&ls.cv);
    pthread_mutex_destroy(&ls.mu);
    return 0;
}

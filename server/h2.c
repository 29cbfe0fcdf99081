/* vdb-server — HTTP/2 for gRPC (nghttp2, and GnuTLS under TLS): event loops that own the
 * connections front.c hands over, the per-stream state of a unary call, the limits (message
 * size, streams per connection, bytes held per connection, idle and stalled connections,
 * grpc-timeout), and handing each complete request to a worker lane. grpc.c gives the meaning
 * of a call (method, auth, status); this file only moves its bytes.
 *
 * Threads: each loop thread owns its connections and their nghttp2 sessions (nghttp2 is not
 * thread-safe). A worker that finishes a call queues it on its loop's done list and wakes the
 * loop through an eventfd; the loop then sends the answer. A stream the client resets while
 * its call runs is kept until the worker is done with it (orphan), and so is its connection. */
#include <errno.h>
#include <stdarg.h>
#include <gnutls/gnutls.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define READ_CHUNK (64 * 1024)
#define OUT_BATCH (64 * 1024) /* frames gathered before one write */
#define HDR_MAX 512           /* longest header value kept (path, auth, ...) */
#define WINDOW (16 << 20)     /* receive window: big inserts flow without round trips */

typedef struct h2_loop h2_loop;
typedef struct h2_conn h2_conn;

enum { ST_HEADERS, ST_RECEIVING, ST_RUNNING, ST_ANSWERED };

typedef struct h2_stream {
    int32_t id;
    h2_conn *c;
    int state;
    int orphan;       /* closed by the peer while its call ran: freed when the worker is done */
    int counted;      /* in h2->active (a request begun, not answered) */
    int is_post, is_grpc, bad_encoding;
    char path[HDR_MAX];
    char auth[HDR_MAX];
    char dbname[128];
    uint64_t start_ms, deadline_ms; /* grpc-timeout (0: none) */
    uint8_t *body;
    size_t len, cap;
    /* the answer */
    uint8_t *resp; /* 5 bytes of gRPC prefix, then the message */
    size_t resp_len, resp_off;
    int grpc_status;
    char grpc_msg[512];
    const srv_grpc_method *method;
    struct h2_stream *next_done;
    struct h2_stream *sprev, *snext; /* the connection's streams */
} h2_stream;

struct h2_conn {
    h2_loop *lp;
    int fd;
    gnutls_session_t tls;
    int handshaking;
    nghttp2_session *s;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint64_t last_read_ms, last_write_ms, opened_ms;
    size_t held;   /* request bytes held by its streams (receiving or running) */
    int running;   /* its calls on a worker */
    int closing;   /* fatal or finished: close once nothing runs */
    int dead;      /* socket closed and session gone; freed when running reaches 0 */
    int goaway_sent;
    int events;    /* what epoll waits for now */
    h2_stream *streams;
    struct h2_conn *prev, *next;
};

struct h2_loop {
    srv_h2 *h;
    pthread_t thread;
    int ep, wake_fd;
    pthread_mutex_t mu;
    h2_stream *done;   /* answered by workers, for this loop to send */
    int *incoming;     /* fds handed over by front.c */
    size_t nin, capin;
    int stop, quiesce;
    int busy;          /* a connection has calls or answers not yet written (drain waits) */
    h2_conn *conns;
};

struct srv_h2 {
    srv_ctx *ctx;
    int nloops;
    h2_loop *loops;
    unsigned next;
    gnutls_certificate_credentials_t cred;
    int tls;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;
    int stopping;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake(h2_loop *lp)
{
    uint64_t one = 1;
    ssize_t n = write(lp->wake_fd, &one, sizeof one);
    (void)n; /* a full counter wakes the loop as well */
}

static void active_add(srv_h2 *h, int d)
{
    pthread_mutex_lock(&h->mu);
    h->active += d;
    if (h->active <= 0)
        pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static int is_orphan(h2_stream *st)
{
    return __atomic_load_n(&st->orphan, __ATOMIC_ACQUIRE);
}

static void stream_free(h2_stream *st)
{
    h2_conn *c = st->c;
    if (st->sprev)
        st->sprev->snext = st->snext;
    else if (c->streams == st)
        c->streams = st->snext;
    if (st->snext)
        st->snext->sprev = st->sprev;
    if (st->counted)
        active_add(st->c->lp->h, -1);
    free(st->body);
    free(st->resp);
    free(st);
}

static void conn_release_body(h2_stream *st)
{
    st->c->held -= st->len < st->c->held ? st->len : st->c->held;
    free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
}

/* ---- answers ---------------------------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)user;
    h2_stream *st = src->ptr;
    size_t left = st->resp_len - st->resp_off;
    size_t n = left < len ? left : len;
    memcpy(buf, st->resp + st->resp_off, n);
    st->resp_off += n;
    if (st->resp_off == st->resp_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        char code[16];
        snprintf(code, sizeof code, "%d", st->grpc_status);
        nghttp2_nv tr[] = {
            {(uint8_t *)"grpc-status", (uint8_t *)code, 11, strlen(code), NGHTTP2_NV_FLAG_NONE},
        };
        if (nghttp2_submit_trailer(s, id, tr, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* grpc-message is percent-encoded (the gRPC spec: bytes outside 0x20..0x7E and '%'). */
static void percent_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

/* Sends st's answer: the message with grpc-status 0 in trailers, or a trailers-only error
 * (with http_status for requests that are not gRPC at all). */
static void send_answer(h2_stream *st, int http_status)
{
    h2_conn *c = st->c;
    char status[8], code[16], msg[1600];
    snprintf(status, sizeof status, "%d", http_status);
    snprintf(code, sizeof code, "%d", st->grpc_status);
    percent_encode(st->grpc_msg, msg, sizeof msg);
    nghttp2_nv nv[5];
    size_t n = 0;
#define NV(k, v) (nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), \
                                         NGHTTP2_NV_FLAG_NONE})
    NV(":status", status);
    NV("content-type", "application/grpc");
    st->state = ST_ANSWERED;
    if (st->counted) {
        st->counted = 0;
        active_add(c->lp->h, -1);
    }
    if (st->grpc_status == 0 && st->resp) {
        NV("grpc-accept-encoding", "identity");
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
        nghttp2_submit_response(c->s, st->id, nv, n, &dp);
    } else {
        NV("grpc-status", code);
        if (*msg)
            NV("grpc-message", msg);
        /* the rest of a request still arriving is dropped as it comes (no RST_STREAM: some
         * clients would take it for the end of the call before they read its status) */
        nghttp2_submit_response(c->s, st->id, nv, n, NULL);
    }
#undef NV
}

static void fail_stream(h2_stream *st, int grpc_status, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_stream(h2_stream *st, int grpc_status, int http_status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->grpc_msg, sizeof st->grpc_msg, fmt, ap);
    va_end(ap);
    st->grpc_status = grpc_status;
    conn_release_body(st);
    send_answer(st, http_status);
}

/* ---- running a call ---------------------------------------------------------------------- */

static void run_call(void *arg)
{
    h2_stream *st = arg;
    h2_loop *lp = st->c->lp; /* the stream and its connection live until the loop takes it */
    if (st->deadline_ms && now_ms() > st->deadline_ms) {
        st->grpc_status = SRV_GRPC_DEADLINE_EXCEEDED;
        snprintf(st->grpc_msg, sizeof st->grpc_msg, "the deadline passed before the call ran");
    } else if (!is_orphan(st)) {
        srv_grpc_reply r = {0};
        srv_grpc_run(lp->h->ctx, st->method, st->dbname, st->body + 5, st->len - 5, &r);
        st->resp = r.buf;
        st->resp_len = r.len;
        st->grpc_status = r.status;
        snprintf(st->grpc_msg, sizeof st->grpc_msg, "%s", r.message);
    }
    pthread_mutex_lock(&lp->mu);
    st->next_done = lp->done;
    lp->done = st;
    pthread_mutex_unlock(&lp->mu);
    wake(lp);
}

static void dispatch(h2_stream *st)
{
    h2_conn *c = st->c;
    srv_h2 *h = c->lp->h;
    if (st->len < 5)
        return fail_stream(st, SRV_GRPC_INTERNAL, 200, "grpc: the request holds no message "
                           "(a unary call sends exactly one)");
    uint32_t mlen = (uint32_t)st->body[1] << 24 | (uint32_t)st->body[2] << 16 |
                    (uint32_t)st->body[3] << 8 | st->body[4];
    if (st->body[0] != 0)
        return fail_stream(st, SRV_GRPC_UNIMPLEMENTED, 200, "grpc: compressed messages are not "
                           "supported by vdb-server (send them uncompressed, grpc-encoding "
                           "identity)");
    if ((uint64_t)mlen + 5 != st->len)
        return fail_stream(st, SRV_GRPC_INTERNAL, 200, "grpc: the request body is %zu bytes "
                           "but its message says %u: a unary call sends exactly one message",
                           st->len, mlen);
    st->state = ST_RUNNING;
    c->running++;
    int is_write = srv_grpc_is_write(st->method);
    if (srv_pool_submit(is_write ? h->ctx->writes : h->ctx->reads, run_call, st) != 0) {
        c->running--;
        st->state = ST_RECEIVING;
        return fail_stream(st, SRV_GRPC_UNAVAILABLE, 200,
                           "service unavailable: the server is shutting down");
    }
}

/* ---- nghttp2 callbacks -------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    h2_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = f->hd.stream_id;
    st->c = c;
    st->start_ms = now_ms();
    st->counted = 1;
    active_add(c->lp->h, 1);
    st->snext = c->streams;
    if (c->streams)
        c->streams->sprev = st;
    c->streams = st;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static void copy_hdr(char *dst, size_t cap, const uint8_t *v, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

/* grpc-timeout: an integer (at most 8 digits) and a unit H M S m u n. */
static uint64_t parse_timeout_ms(const uint8_t *v, size_t len)
{
    if (len < 2 || len > 9)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        x = x * 10 + (v[i] - '0');
    }
    switch (v[len - 1]) {
    case 'H': return x * 3600000;
    case 'M': return x * 60000;
    case 'S': return x * 1000;
    case 'm': return x;
    case 'u': return x / 1000 + 1;
    case 'n': return x / 1000000 + 1;
    default: return 0;
    }
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || st->state != ST_HEADERS)
        return 0; /* trailers of a request: nothing in them matters */
#define IS(k) (nlen == sizeof(k) - 1 && !memcmp(name, k, nlen))
    if (IS(":method"))
        st->is_post = vlen == 4 && !memcmp(value, "POST", 4);
    else if (IS(":path"))
        copy_hdr(st->path, sizeof st->path, value, vlen);
    else if (IS("content-type"))
        st->is_grpc = vlen >= 16 && !memcmp(value, "application/grpc", 16) &&
                      (vlen == 16 || value[16] == '+' || value[16] == ';');
    else if (IS("authorization"))
        copy_hdr(st->auth, sizeof st->auth, value, vlen);
    else if (IS("dbname"))
        copy_hdr(st->dbname, sizeof st->dbname, value, vlen);
    else if (IS("grpc-encoding"))
        st->bad_encoding = !(vlen == 8 && !memcmp(value, "identity", 8));
    else if (IS("grpc-timeout")) {
        uint64_t t = parse_timeout_ms(value, vlen);
        if (t)
            st->deadline_ms = st->start_ms + t;
    }
#undef IS
    return 0;
}

/* The request's headers are all in: decide whether it can go on. */
static void headers_done(h2_stream *st)
{
    srv_h2 *h = st->c->lp->h;
    const srv_config *cfg = h->ctx->cfg;
    st->state = ST_RECEIVING;
    pthread_mutex_lock(&h->mu);
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->mu);
    if (!st->is_grpc || !st->is_post)
        return fail_stream(st, SRV_GRPC_INTERNAL, 415, "invalid gRPC request: vdb-server "
                           "serves gRPC (POST, content-type application/grpc) over HTTP/2 and "
                           "its REST API over HTTP/1.1");
    if (stopping)
        return fail_stream(st, SRV_GRPC_UNAVAILABLE, 200,
                           "service unavailable: the server is shutting down");
    const char *why = NULL;
    st->method = srv_grpc_find(st->path, &why);
    if (!st->method)
        return fail_stream(st, SRV_GRPC_UNIMPLEMENTED, 200, "%s", why);
    if (cfg->token && !srv_grpc_auth_ok(cfg, st->auth, &why))
        return fail_stream(st, SRV_GRPC_UNAUTHENTICATED, 200, "%s", why);
    if (st->bad_encoding)
        return fail_stream(st, SRV_GRPC_UNIMPLEMENTED, 200, "grpc: compressed messages are not "
                           "supported by vdb-server (grpc-encoding identity)");
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    h2_conn *c = user;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st || st->state != ST_RECEIVING)
        return 0; /* answered already (an error): the rest is dropped */
    const srv_config *cfg = c->lp->h->ctx->cfg;
    uint64_t max = cfg->max_body;
    if (now_ms() - st->start_ms > (uint64_t)cfg->request_timeout * 1000) {
        srv_log(SRV_LOG_WARN, "grpc: cutting a call whose request took over %d s to arrive",
                cfg->request_timeout);
        fail_stream(st, SRV_GRPC_DEADLINE_EXCEEDED, 200, "the request took over %d s to "
                    "arrive (--request-timeout)", cfg->request_timeout);
        return 0;
    }
    if (st->len + len > 5 + max || (st->len < 5 && st->len + len >= 5)) {
        /* the message's length is known from its 5-byte prefix: refuse before reading it */
        uint8_t pre[5];
        size_t have = st->len < 5 ? st->len : 5;
        if (have)
            memcpy(pre, st->body, have);
        memcpy(pre + have, data, 5 - have < len ? 5 - have : len);
        if (have + len >= 5) {
            uint64_t mlen = (uint64_t)pre[1] << 24 | (uint64_t)pre[2] << 16 |
                            (uint64_t)pre[3] << 8 | pre[4];
            if (mlen > max) {
                fail_stream(st, SRV_GRPC_RESOURCE_EXHAUSTED, 200, "grpc: received message "
                            "larger than max (%llu vs. %llu): vdb-server takes messages up to "
                            "--max-body", (unsigned long long)mlen, (unsigned long long)max);
                return 0;
            }
        }
        if (st->len + len > 5 + max) {
            fail_stream(st, SRV_GRPC_RESOURCE_EXHAUSTED, 200, "grpc: the request body is "
                        "larger than max (%llu bytes, --max-body)", (unsigned long long)max);
            return 0;
        }
    }
    /* bytes all of a connection's requests hold at once: twice the message cap */
    if (c->held + len > 2 * max + 5) {
        fail_stream(st, SRV_GRPC_RESOURCE_EXHAUSTED, 200, "grpc: this connection's requests "
                    "in flight hold more than %llu bytes: wait for their answers",
                    (unsigned long long)(2 * max));
        return 0;
    }
    if (st->len + len > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        size_t want = st->len + len;
        if (st->len >= 5) { /* the whole message's size is known: one allocation */
            uint64_t mlen = (uint64_t)st->body[1] << 24 | (uint64_t)st->body[2] << 16 |
                            (uint64_t)st->body[3] << 8 | st->body[4];
            if (mlen + 5 > want)
                want = (size_t)mlen + 5;
        }
        while (cap < want)
            cap *= 2;
        uint8_t *nb = realloc(st->body, cap);
        if (!nb) {
            fail_stream(st, SRV_GRPC_RESOURCE_EXHAUSTED, 200, "memory limit exceeded");
            return 0;
        }
        st->body = nb;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, len);
    st->len += len;
    c->held += len;
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && st->state == ST_HEADERS)
        headers_done(st);
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->state == ST_RECEIVING)
        dispatch(st);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
    (void)code;
    (void)user;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    if (st->state == ST_RUNNING) {
        __atomic_store_n(&st->orphan, 1, __ATOMIC_RELEASE); /* the worker still has it */
        return 0;
    }
    conn_release_body(st);
    stream_free(st);
    return 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static nghttp2_session_callbacks *cbs;
static pthread_once_t cbs_once = PTHREAD_ONCE_INIT;

static void cbs_init(void)
{
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}

static nghttp2_session_callbacks *callbacks(void)
{
    pthread_once(&cbs_once, cbs_init);
    return cbs;
}

static int conn_start_session(h2_conn *c)
{
    const srv_config *cfg = c->lp->h->ctx->cfg;
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0)
        return -1;
    /* a request's header block beyond 64 KiB is an error, not memory */
    nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
    int rc = callbacks() ? nghttp2_session_server_new2(&c->s, callbacks(), c, opt) : -1;
    nghttp2_option_del(opt);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)cfg->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024},
    };
    if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, WINDOW) != 0)
        return -1;
    return 0;
}

static void conn_set_events(h2_conn *c, int want_write)
{
    int events = EPOLLIN | (want_write ? EPOLLOUT : 0);
    if (events == c->events || c->dead)
        return;
    struct epoll_event ev = {.events = (uint32_t)events, .data.ptr = c};
    if (epoll_ctl(c->lp->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static ssize_t sock_write(h2_conn *c, const uint8_t *p, size_t n)
{
    if (c->tls) {
        ssize_t w = gnutls_record_send(c->tls, p, n);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
            errno = EAGAIN;
            return -1;
        }
        if (w < 0) {
            errno = EPIPE;
            return -1;
        }
        return w;
    }
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    return w;
}

/* Writes what nghttp2 has to send. Returns -1 when the connection is broken. */
static int conn_flush(h2_conn *c)
{
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t w = sock_write(c, c->out + c->out_off, c->out_len - c->out_off);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    conn_set_events(c, 1);
                    return 0;
                }
                return -1;
            }
            c->out_off += (size_t)w;
            c->last_write_ms = now_ms();
        }
        c->out_off = c->out_len = 0;
        if (!c->s)
            return 0;
        /* gather frames, then one write */
        while (c->out_len < OUT_BATCH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->s, &data);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            if (c->out_len + (size_t)n > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : OUT_BATCH;
                while (cap < c->out_len + (size_t)n)
                    cap *= 2;
                uint8_t *nb = realloc(c->out, cap);
                if (!nb)
                    return -1;
                c->out = nb;
                c->out_cap = cap;
            }
            memcpy(c->out + c->out_len, data, (size_t)n);
            c->out_len += (size_t)n;
        }
        if (c->out_len == 0) {
            conn_set_events(c, 0);
            if (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s))
                c->closing = 1;
            return 0;
        }
    }
}

static void conn_close(h2_conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    /* nghttp2_session_del frees its streams without the close callback: ours go here; a
     * running one is left to its worker (take_done frees it) */
    for (h2_stream *st = c->streams, *next; st; st = next) {
        next = st->snext;
        if (st->state == ST_RUNNING) {
            __atomic_store_n(&st->orphan, 1, __ATOMIC_RELEASE);
        } else {
            conn_release_body(st);
            stream_free(st);
        }
    }
    if (c->s) {
        nghttp2_session_del(c->s);
        c->s = NULL;
    }
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    close(c->fd);
    srv_conns_close(c->lp->h->ctx->conns);
}

static void conn_free_if_done(h2_conn *c)
{
    if (!c->dead || c->running)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->lp->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    free(c);
}

static void conn_read(h2_conn *c)
{
    uint8_t buf[READ_CHUNK];
    for (int round = 0; round < 8 && !c->closing; round++) {
        ssize_t n;
        if (c->tls) {
            n = gnutls_record_recv(c->tls, buf, sizeof buf);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                return;
            if (n < 0) {
                srv_log(SRV_LOG_DEBUG, "grpc: TLS: %s", gnutls_strerror((int)n));
                c->closing = 1;
                return;
            }
        } else {
            n = recv(c->fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        }
        if (n <= 0) {
            c->closing = 1;
            return;
        }
        c->last_read_ms = now_ms();
        ssize_t r = nghttp2_session_mem_recv(c->s, buf, (size_t)n);
        if (r < 0) {
            srv_log(SRV_LOG_DEBUG, "grpc: closing a connection: %s", nghttp2_strerror((int)r));
            /* nghttp2 has queued a GOAWAY for protocol errors: try to send it */
            conn_flush(c);
            c->closing = 1;
            return;
        }
        if ((size_t)n < sizeof buf && !(c->tls && gnutls_record_check_pending(c->tls)))
            return;
    }
}

static void conn_handshake(h2_conn *c)
{
    int rc = gnutls_handshake(c->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        conn_set_events(c, gnutls_record_get_direction(c->tls) == 1);
        return;
    }
    if (rc < 0) {
        srv_log(SRV_LOG_DEBUG, "grpc: TLS handshake failed: %s", gnutls_strerror(rc));
        c->closing = 1;
        return;
    }
    c->handshaking = 0;
    c->last_read_ms = now_ms();
    conn_set_events(c, 0);
}

static void conn_event(h2_conn *c, uint32_t ev)
{
    if (c->dead)
        return;
    if (c->handshaking) {
        conn_handshake(c);
        if (c->handshaking || c->closing)
            goto out;
    }
    (void)ev; /* read until EAGAIN whatever woke us: TLS may hold decrypted bytes */
    conn_read(c);
    if (!c->closing && conn_flush(c) != 0)
        c->closing = 1;
out:
    if (c->closing)
        conn_close(c);
}

static void conn_add(h2_loop *lp, int fd)
{
    srv_h2 *h = lp->h;
    h2_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        srv_conns_close(h->ctx->conns);
        return;
    }
    c->lp = lp;
    c->fd = fd;
    c->opened_ms = c->last_read_ms = c->last_write_ms = now_ms();
    c->events = EPOLLIN;
    if (h->tls) {
        if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) != 0 ||
            gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, h->cred) != 0 ||
            gnutls_set_default_priority(c->tls) != 0) {
            srv_log(SRV_LOG_ERROR, "grpc: cannot set up TLS for a connection");
            goto fail;
        }
        gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
        gnutls_alpn_set_protocols(c->tls, &h2, 1, 0);
        gnutls_transport_set_int(c->tls, fd);
        gnutls_handshake_set_timeout(c->tls, 0);
        c->handshaking = 1;
    }
    if (conn_start_session(c) != 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        goto fail;
    c->next = lp->conns;
    if (lp->conns)
        lp->conns->prev = c;
    lp->conns = c;
    pthread_mutex_lock(&lp->mu);
    int quiesce = lp->quiesce;
    pthread_mutex_unlock(&lp->mu);
    if (quiesce) {
        nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
        c->goaway_sent = 1;
    }
    conn_event(c, EPOLLIN); /* the preface (or ClientHello) is already there */
    conn_free_if_done(c);
    return;
fail:
    if (c->s)
        nghttp2_session_del(c->s);
    if (c->tls)
        gnutls_deinit(c->tls);
    free(c);
    close(fd);
    srv_conns_close(h->ctx->conns);
}

/* Sends the answers workers finished. */
static void take_done(h2_loop *lp)
{
    pthread_mutex_lock(&lp->mu);
    h2_stream *list = lp->done;
    lp->done = NULL;
    int *in = lp->incoming;
    size_t nin = lp->nin;
    lp->incoming = NULL;
    lp->nin = lp->capin = 0;
    pthread_mutex_unlock(&lp->mu);
    for (size_t i = 0; i < nin; i++)
        conn_add(lp, in[i]);
    free(in);
    while (list) {
        h2_stream *st = list;
        list = st->next_done;
        h2_conn *c = st->c;
        c->running--;
        conn_release_body(st);
        if (is_orphan(st) || c->dead) {
            stream_free(st);
        } else {
            send_answer(st, 200);
            if (conn_flush(c) != 0) {
                c->closing = 1;
                conn_close(c);
            }
        }
        conn_free_if_done(c);
    }
}

/* Closes connections idle or stalled for --timeout, and calls arriving too slowly. */
static void sweep(h2_loop *lp, uint64_t now, int quiesce)
{
    const srv_config *cfg = lp->h->ctx->cfg;
    uint64_t idle = (uint64_t)cfg->timeout * 1000;
    for (h2_conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (c->dead)
            continue;
        int blocked = c->out_off < c->out_len;
        uint64_t last = c->last_read_ms > c->last_write_ms ? c->last_read_ms : c->last_write_ms;
        if ((c->running == 0 && now - last > idle) || (blocked && now - c->last_write_ms > idle)) {
            srv_log(SRV_LOG_DEBUG, "grpc: closing a connection %s for %d s",
                    blocked ? "that does not read its answers" : "idle or stalled",
                    cfg->timeout);
            if (!blocked && !c->handshaking) {
                nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE,
                                      nghttp2_session_get_last_proc_stream_id(c->s),
                                      NGHTTP2_NO_ERROR, (const uint8_t *)"idle", 4);
                conn_flush(c);
            }
            conn_close(c);
            conn_free_if_done(c);
            continue;
        }
        /* a call still arriving after --request-timeout, on a connection kept busy otherwise
         * (PINGs, other calls): answered DEADLINE_EXCEEDED, as when its data comes too late */
        int cut = 0;
        for (h2_stream *st = c->streams; st; st = st->snext)
            if (st->state == ST_RECEIVING &&
                now - st->start_ms > (uint64_t)cfg->request_timeout * 1000) {
                srv_log(SRV_LOG_WARN, "grpc: cutting a call whose request took over %d s to "
                        "arrive", cfg->request_timeout);
                fail_stream(st, SRV_GRPC_DEADLINE_EXCEEDED, 200, "the request took over %d s "
                            "to arrive (--request-timeout)", cfg->request_timeout);
                cut = 1;
            }
        if (cut && (conn_flush(c) != 0 || c->closing)) {
            conn_close(c);
            conn_free_if_done(c);
            continue;
        }
        if (quiesce && !c->goaway_sent && !c->handshaking) {
            nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(c->s),
                                  NGHTTP2_NO_ERROR, NULL, 0);
            c->goaway_sent = 1;
            if (conn_flush(c) != 0 || c->closing) {
                conn_close(c);
                conn_free_if_done(c);
            }
        }
    }
}

/* 1 if a connection still has calls in flight or answers not yet written. */
static int loop_busy(h2_loop *lp)
{
    for (h2_conn *c = lp->conns; c; c = c->next)
        if (!c->dead && (c->running || c->out_off < c->out_len ||
                         (c->s && nghttp2_session_want_write(c->s)) || c->streams))
            return 1;
    return 0;
}

static void *loop_main(void *arg)
{
    h2_loop *lp = arg;
    struct epoll_event evs[64];
    uint64_t last_sweep = now_ms();
    for (;;) {
        int n = epoll_wait(lp->ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == lp) {
                uint64_t v;
                while (read(lp->wake_fd, &v, sizeof v) == sizeof v)
                    ;
                continue;
            }
            h2_conn *c = evs[i].data.ptr;
            conn_event(c, evs[i].events);
            conn_free_if_done(c);
        }
        take_done(lp);
        pthread_mutex_lock(&lp->mu);
        int stop = lp->stop, quiesce = lp->quiesce;
        pthread_mutex_unlock(&lp->mu);
        if (stop)
            break;
        uint64_t now = now_ms();
        if (now - last_sweep >= 250 || quiesce) {
            sweep(lp, now, quiesce);
            last_sweep = now;
        }
        __atomic_store_n(&lp->busy, loop_busy(lp), __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ---- the front's interface ------------------------------------------------------------------ */

srv_h2 *srv_h2_start(srv_ctx *ctx)
{
    const srv_config *cfg = ctx->cfg;
    srv_h2 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ctx = ctx;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (cfg->tls_cert) {
        if (gnutls_certificate_allocate_credentials(&h->cred) != 0 ||
            gnutls_certificate_set_x509_key_file(h->cred, cfg->tls_cert, cfg->tls_key,
                                                 GNUTLS_X509_FMT_PEM) < 0) {
            srv_log(SRV_LOG_ERROR, "grpc: cannot load the TLS certificate %s and key %s",
                    cfg->tls_cert, cfg->tls_key);
            goto fail;
        }
        h->tls = 1;
    }
    h->nloops = cfg->io_threads > 0 ? cfg->io_threads : 1;
    h->loops = calloc((size_t)h->nloops, sizeof *h->loops);
    if (!h->loops)
        goto fail;
    for (int i = 0; i < h->nloops; i++) {
        h2_loop *lp = &h->loops[i];
        lp->h = h;
        pthread_mutex_init(&lp->mu, NULL);
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lp};
        if (lp->ep < 0 || lp->wake_fd < 0 ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake_fd, &ev) != 0 ||
            pthread_create(&lp->thread, NULL, loop_main, lp) != 0) {
            srv_log(SRV_LOG_ERROR, "grpc: cannot start connection thread %d", i);
            if (lp->ep >= 0)
                close(lp->ep);
            if (lp->wake_fd >= 0)
                close(lp->wake_fd);
            pthread_mutex_destroy(&lp->mu);
            h->nloops = i;
            srv_h2_stop(h);
            return NULL;
        }
    }
    return h;
fail:
    if (h->cred)
        gnutls_certificate_free_credentials(h->cred);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
    return NULL;
}

void srv_h2_add_connection(srv_h2 *h, int fd)
{
    h2_loop *lp = &h->loops[__atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED) % h->nloops];
    pthread_mutex_lock(&lp->mu);
    if (lp->nin == lp->capin) {
        size_t cap = lp->capin ? lp->capin * 2 : 8;
        int *ni = realloc(lp->incoming, cap * sizeof *ni);
        if (!ni) {
            pthread_mutex_unlock(&lp->mu);
            close(fd);
            srv_conns_close(h->ctx->conns);
            return;
        }
        lp->incoming = ni;
        lp->capin = cap;
    }
    lp->incoming[lp->nin++] = fd;
    pthread_mutex_unlock(&lp->mu);
    wake(lp);
}

void srv_h2_quiesce(srv_h2 *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->nloops; i++) {
        pthread_mutex_lock(&h->loops[i].mu);
        h->loops[i].quiesce = 1;
        pthread_mutex_unlock(&h->loops[i].mu);
        wake(&h->loops[i]);
    }
}

int srv_h2_drain(srv_h2 *h, int seconds)
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
    /* answered is not yet written: give the loops the rest of the time to send */
    for (;;) {
        int busy = 0;
        for (int i = 0; i < h->nloops; i++)
            busy |= __atomic_load_n(&h->loops[i].busy, __ATOMIC_RELAXED);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!busy || now.tv_sec >= until.tv_sec)
            break;
        struct timespec ten = {0, 10 * 1000000};
        nanosleep(&ten, NULL);
    }
    return left;
}

void srv_h2_stop(srv_h2 *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->nloops; i++) {
        h2_loop *lp = &h->loops[i];
        pthread_mutex_lock(&lp->mu);
        lp->stop = 1;
        pthread_mutex_unlock(&lp->mu);
        wake(lp);
        pthread_join(lp->thread, NULL);
        /* the pools were stopped first: no call runs; answers not sent are dropped */
        take_done(lp);
        for (h2_conn *c = lp->conns; c;) {
            h2_conn *next = c->next;
            conn_flush(c);
            conn_close(c);
            c->running = 0;
            conn_free_if_done(c);
            c = next;
        }
        for (size_t k = 0; k < lp->nin; k++) {
            close(lp->incoming[k]);
            srv_conns_close(h->ctx->conns);
        }
        free(lp->incoming);
        close(lp->ep);
        close(lp->wake_fd);
        pthread_mutex_destroy(&lp->mu);
    }
    free(h->loops);
    if (h->cred)
        gnutls_certificate_free_credentials(h->cred);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

/* vdb-server — HTTP/2 for gRPC (nghttp2, and GnuTLS under TLS): event loops that own the
 * connections front.c hands over, the per-stream state of a unary call, the limits (message
 * size, streams per connection, bytes held per connection, idle and stalled connections,
 * grpc-timeout), and handing each complete request to a worker lane. grpc.c gives the meaning
 * of a call (method, auth, status); this file only moves its bytes.
 *
 * Threads: each loop thread (loop.c: the event loops, TLS, draining) owns its connections and
 * their nghttp2 sessions (nghttp2 is not thread-safe). A worker that finishes a call queues it
 * on its loop's done list; the loop then sends the answer. A stream the client resets while
 * its call runs is kept until the worker is done with it (orphan), and so is its connection.
 * srv_h2_feed (the end of the file) runs one connection through the same code without a
 * socket or workers, for tests/fuzz/fuzz_h2.c. */
#include <errno.h>
#include <stdarg.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

#define READ_CHUNK (64 * 1024)
#define OUT_BATCH (64 * 1024) /* frames gathered before one write */
#define HDR_MAX 512           /* longest header value kept (path, auth, ...) */
#define WINDOW (16 << 20)     /* receive window: big inserts flow without round trips */

typedef struct h2_conn h2_conn;

enum { ST_HEADERS, ST_RECEIVING, ST_RUNNING, ST_ANSWERED };

typedef struct h2_stream {
    int32_t id;
    h2_conn *c;
    int state;
    int orphan;       /* closed by the peer while its call ran: freed when the worker is done */
    int counted;      /* in the loops' active (a request begun, not answered) */
    int is_post, is_grpc, bad_encoding;
    char path[HDR_MAX];
    char auth[HDR_MAX];
    char user[64]; /* --authorization 1: who the authorization metadata names */
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
    srv_done done;
    struct h2_stream *sprev, *snext; /* the connection's streams */
} h2_stream;

struct h2_conn {
    srv_lconn lc; /* first: the loop's part (fd, tls, dead, running: its calls on a worker) */
    nghttp2_session *s;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint64_t last_read_ms, last_write_ms, opened_ms;
    size_t held;   /* request bytes held by its streams (receiving or running) */
    int closing;   /* fatal or finished: close once nothing runs */
    int goaway_sent;
    h2_stream *streams;
    struct h2_sink *sink; /* srv_h2_feed's connection: no socket, no worker (else NULL) */
};

/* What srv_h2_feed gives a connection instead of a socket and the worker lanes: the bytes
 * written are counted, a call to run waits on pending (linked by done.next) for the feed to
 * run it (run_call, with run instead of srv_grpc_run). */
typedef struct h2_sink {
    srv_h2_run_fn run;
    void *arg;
    size_t out_bytes;
    srv_done *pending;
} h2_sink;

static srv_ctx *ctx_of(const h2_conn *c)
{
    return c->lc.lp->ls->ctx;
}

static void active_add(h2_conn *c, int d)
{
    srv_loops_active_add(c->lc.lp->ls, d);
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
        active_add(st->c, -1);
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
        active_add(c, -1);
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
    srv_loop *lp = st->c->lc.lp; /* the stream and its connection live until the loop takes it */
    if (st->deadline_ms && srv_now_ms() > st->deadline_ms) {
        st->grpc_status = SRV_GRPC_DEADLINE_EXCEEDED;
        snprintf(st->grpc_msg, sizeof st->grpc_msg, "the deadline passed before the call ran");
    } else if (!is_orphan(st)) {
        srv_ctx *ctx = lp->ls->ctx;
        const char *why = NULL;
        /* --authorization 1: here, not on the loop (headers_done), as a user's first call
         * (or a wrong password) costs a PBKDF2 */
        int code = ctx->cfg->authorization
                   ? srv_grpc_user_check(ctx, st->auth, st->user, sizeof st->user, &why) : 0;
        if (code) {
            st->grpc_status = code;
            snprintf(st->grpc_msg, sizeof st->grpc_msg, "%s", why);
            explicit_bzero(st->auth, sizeof st->auth);
            srv_loop_finish(lp, &st->done);
            return;
        }
        explicit_bzero(st->auth, sizeof st->auth);
        srv_grpc_reply r = {0};
        if (st->c->sink)
            st->c->sink->run(st->c->sink->arg, st->method, st->dbname, st->body + 5,
                             st->len - 5, &r);
        else
            srv_grpc_run(ctx, st->method, st->dbname, ctx->cfg->authorization ? st->user : NULL,
                         st->body + 5, st->len - 5, &r);
        st->resp = r.buf;
        st->resp_len = r.len;
        st->grpc_status = r.status;
        snprintf(st->grpc_msg, sizeof st->grpc_msg, "%s", r.message);
    }
    srv_loop_finish(lp, &st->done);
}

static void dispatch(h2_stream *st)
{
    h2_conn *c = st->c;
    srv_ctx *ctx = ctx_of(c);
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
    c->lc.running++;
    int is_write = srv_grpc_is_write(st->method);
    if (c->sink) { /* srv_h2_feed runs it, as a worker would */
        st->done.next = c->sink->pending;
        c->sink->pending = &st->done;
        return;
    }
    if (srv_pool_submit(is_write ? ctx->writes : ctx->reads, run_call, st) != 0) {
        c->lc.running--;
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
    st->start_ms = srv_now_ms();
    st->counted = 1;
    active_add(c, 1);
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
    const srv_config *cfg = ctx_of(st->c)->cfg;
    st->state = ST_RECEIVING;
    int stopping = srv_loops_stopping(st->c->lc.lp->ls);
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
    /* --authorization 1: srv_grpc_user_check runs on the worker (run_call) */
    if (!cfg->authorization && cfg->token && !srv_grpc_auth_ok(cfg, st->auth, &why))
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
    const srv_config *cfg = ctx_of(c)->cfg;
    uint64_t max = cfg->max_body;
    if (srv_now_ms() - st->start_ms > (uint64_t)cfg->request_timeout * 1000) {
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
    const srv_config *cfg = ctx_of(c)->cfg;
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
    if (!c->sink)
        srv_lconn_set_events(&c->lc, EPOLLIN | (want_write ? EPOLLOUT : 0));
}

/* Writes what nghttp2 has to send. Returns -1 when the connection is broken. */
static int conn_flush(h2_conn *c)
{
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t w = c->sink ? (ssize_t)(c->out_len - c->out_off)
                        : srv_lconn_write(&c->lc, c->out + c->out_off, c->out_len - c->out_off);
            if (c->sink)
                c->sink->out_bytes += (size_t)w;
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    conn_set_events(c, 1);
                    return 0;
                }
                return -1;
            }
            c->out_off += (size_t)w;
            c->last_write_ms = srv_now_ms();
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

static void on_close(srv_lconn *lc);

static void conn_close(h2_conn *c)
{
    if (!c->sink) {
        srv_lconn_close(&c->lc);
    } else if (!c->lc.dead) {
        c->lc.dead = 1;
        on_close(&c->lc);
    }
}

/* The loop's close: the streams and the session. */
static void on_close(srv_lconn *lc)
{
    h2_conn *c = (h2_conn *)lc;
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
}

static void conn_free_if_done(h2_conn *c)
{
    if (!c->sink) /* srv_h2_feed frees its own */
        srv_lconn_free_if_done(&c->lc);
}

static void on_free(srv_lconn *lc)
{
    free(((h2_conn *)lc)->out);
}

/* n bytes read from the connection, through nghttp2 (its callbacks above); a protocol error
 * sets closing. */
static void conn_input(h2_conn *c, const uint8_t *buf, size_t n)
{
    c->last_read_ms = srv_now_ms();
    ssize_t r = nghttp2_session_mem_recv(c->s, buf, n);
    if (r < 0) {
        srv_log(SRV_LOG_DEBUG, "grpc: closing a connection: %s", nghttp2_strerror((int)r));
        /* nghttp2 has queued a GOAWAY for protocol errors: try to send it */
        conn_flush(c);
        c->closing = 1;
    }
}

static void conn_read(h2_conn *c)
{
    uint8_t buf[READ_CHUNK];
    for (int round = 0; round < 8 && !c->closing; round++) {
        ssize_t n = srv_lconn_read(&c->lc, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            c->closing = 1;
            return;
        }
        conn_input(c, buf, (size_t)n);
        if (c->closing)
            return;
        if ((size_t)n < sizeof buf && !srv_lconn_pending(&c->lc))
            return;
    }
}


static void on_event(srv_lconn *lc, uint32_t ev)
{
    h2_conn *c = (h2_conn *)lc;
    if (c->lc.dead)
        return;
    if (c->lc.handshaking) {
        int rc = srv_lconn_handshake(&c->lc);
        if (rc < 0)
            c->closing = 1;
        if (rc <= 0)
            goto out;
        c->last_read_ms = srv_now_ms();
    }
    (void)ev; /* read until EAGAIN whatever woke us: TLS may hold decrypted bytes */
    conn_read(c);
    if (!c->closing && conn_flush(c) != 0)
        c->closing = 1;
out:
    if (c->closing)
        conn_close(c);
}

static int on_open(srv_lconn *lc)
{
    h2_conn *c = (h2_conn *)lc;
    c->opened_ms = c->last_read_ms = c->last_write_ms = srv_now_ms();
    if (conn_start_session(c) != 0) {
        if (c->s)
            nghttp2_session_del(c->s);
        c->s = NULL;
        return -1;
    }
    return 0;
}

static void on_added(srv_lconn *lc)
{
    h2_conn *c = (h2_conn *)lc;
    if (srv_loop_quiescing(c->lc.lp)) {
        nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
        c->goaway_sent = 1;
    }
}

/* Sends an answer a worker finished. */
static void on_done(srv_loop *lp, srv_done *d)
{
    (void)lp;
    h2_stream *st = (h2_stream *)((char *)d - offsetof(h2_stream, done));
    h2_conn *c = st->c;
    c->lc.running--;
    conn_release_body(st);
    if (is_orphan(st) || c->lc.dead) {
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

/* Closes connections idle or stalled for --timeout, and calls arriving too slowly. */
static void on_sweep(srv_loop *lp, uint64_t now, int quiesce)
{
    const srv_config *cfg = lp->ls->ctx->cfg;
    uint64_t idle = (uint64_t)cfg->timeout * 1000;
    for (srv_lconn *lc = lp->conns, *next; lc; lc = next) {
        next = lc->next;
        h2_conn *c = (h2_conn *)lc;
        if (c->lc.dead)
            continue;
        int blocked = c->out_off < c->out_len;
        uint64_t last = c->last_read_ms > c->last_write_ms ? c->last_read_ms : c->last_write_ms;
        if ((c->lc.running == 0 && now - last > idle) || (blocked && now - c->last_write_ms > idle)) {
            srv_log(SRV_LOG_DEBUG, "grpc: closing a connection %s for %d s",
                    blocked ? "that does not read its answers" : "idle or stalled",
                    cfg->timeout);
            if (!blocked && !c->lc.handshaking) {
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
        if (quiesce && !c->goaway_sent && !c->lc.handshaking) {
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

/* 1 if a connection still has answers not yet written or streams open. */
static int on_busy(srv_lconn *lc)
{
    h2_conn *c = (h2_conn *)lc;
    return c->out_off < c->out_len || (c->s && nghttp2_session_want_write(c->s)) || c->streams;
}

static void on_flush(srv_lconn *lc)
{
    conn_flush((h2_conn *)lc);
}

static const srv_loop_ops h2_ops = {
    .name = "grpc",
    .proto = "HTTP/2",
    .alpn = "h2",
    .conn_size = sizeof(h2_conn),
    .wait_ms = 1000,
    .handshake_out = EPOLLIN | EPOLLOUT,
    .open = on_open,
    .added = on_added,
    .event = on_event,
    .done = on_done,
    .flush = on_flush,
    .close = on_close,
    .free = on_free,
    .sweep = on_sweep,
    .busy = on_busy,
};

/* ---- the front's interface ------------------------------------------------------------------ */

srv_h2 *srv_h2_start(srv_ctx *ctx)
{
    return srv_loops_start(ctx, &h2_ops);
}

/* ---- without a socket (tests/fuzz/fuzz_h2.c) ---------------------------------------------- */

int srv_h2_feed(srv_ctx *ctx, const uint8_t *const *pieces, const size_t *lens, size_t n,
                srv_h2_run_fn run, void *arg, int quiesced, srv_h2_fed *res)
{
    memset(res, 0, sizeof *res);
    srv_loops ls = {.ctx = ctx, .ops = &h2_ops, .nloops = 1, .stopping = quiesced};
    srv_loop lp = {.ls = &ls, .ep = -1, .wake_fd = -1, .quiesce = quiesced};
    h2_sink sink = {.run = run, .arg = arg};
    h2_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    pthread_mutex_init(&ls.mu, NULL);
    pthread_cond_init(&ls.cv, NULL);
    pthread_mutex_init(&lp.mu, NULL);
    c->lc.lp = &lp;
    c->lc.fd = -1;
    c->sink = &sink;
    lp.conns = &c->lc;
    int rc = on_open(&c->lc);
    if (rc == 0) {
        on_added(&c->lc);
        for (size_t i = 0; i < n && !c->lc.dead; i++) {
            /* as on_event: the bytes, then what nghttp2 has to send */
            conn_input(c, pieces[i], lens[i]);
            if (!c->closing && conn_flush(c) != 0)
                c->closing = 1;
            if (c->closing)
                conn_close(c);
            /* the calls it handed over run (as workers would), then their answers go out
             * (as the loop's take_done) */
            while (sink.pending) {
                srv_done *d = sink.pending;
                sink.pending = d->next;
                res->calls++;
                run_call((h2_stream *)((char *)d - offsetof(h2_stream, done)));
            }
            pthread_mutex_lock(&lp.mu);
            srv_done *list = lp.done;
            lp.done = NULL;
            pthread_mutex_unlock(&lp.mu);
            while (list) {
                srv_done *d = list;
                list = d->next;
                on_done(&lp, d);
            }
        }
        res->closed = c->lc.dead;
        conn_close(c); /* the client goes */
    }
    res->active = ls.active;
    res->out_bytes = sink.out_bytes;
    on_free(&c->lc);
    free(c);
    pthread_mutex_destroy(&lp.mu);
    pthread_cond_destroy(&ls.cv);
    pthread_mutex_destroy(&ls.mu);
    return rc;
}

/* vdb-server — the one listening port: accepts connections and tells the protocols apart, as
 * Milvus serves gRPC and REST on one port. Without TLS a connection that opens with HTTP/2's
 * preface ("PRI * HTTP/2.0...") is gRPC (h2.c) and any other is HTTP/1.1 (http.c); with TLS the ALPN list of the ClientHello decides ("h2" offered without "http/1.1":
 * HTTP/2).
 * Both are read with MSG_PEEK, so the protocol that gets the socket reads it from its first
 * byte. A connection that sends nothing for --timeout seconds is closed. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define PEEK_MAX (5 + 16384) /* one TLS record: the ClientHello */

#define REFUSE_LINGER_MS 2000 /* reading what a refused client still sends, before the close */
#define REFUSING_MAX 256       /* refused connections lingering at once; past it, the backlog */

typedef struct sniff {
    int fd;
    struct sockaddr_storage addr;
    socklen_t alen;
    uint64_t deadline_ms;
    int refused; /* past the cap: answered 503, read until the client closes or the linger ends */
} sniff;

struct srv_front {
    srv_ctx *ctx;
    srv_http *http;
    srv_h2 *h2;
    int lfd;
    int stop_fd;
    int tls;
    pthread_t thread;
    int running;
    sniff *sn;
    size_t nsn, capsn;
    size_t nrefused; /* of sn, those refused */
    unsigned char *peek;
    char busy[384]; /* the answer past the cap */
    size_t busy_len;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 1 if the TLS ClientHello in b[0..n) offers ALPN "h2" and not "http/1.1" (gRPC clients offer
 * h2 alone), 0 if not (browsers and curl offer both: HTTP/1.1, REST and /webui), -1 if more
 * bytes are needed to tell. */
static int client_hello_offers_h2(const unsigned char *b, size_t n, int complete)
{
    if (n < 5)
        return complete ? 0 : -1;
    if (b[0] != 0x16) /* not a handshake record: not TLS; the TLS front will refuse it */
        return 0;
    size_t rec = (size_t)b[3] << 8 | b[4];
    if (n < 5 + rec && n < PEEK_MAX && !complete)
        return -1;
    size_t end = 5 + rec < n ? 5 + rec : n, p = 5;
    /* handshake header (type 1 = ClientHello, 3-byte length), version, random */
    if (p + 4 > end || b[p] != 1)
        return 0;
    p += 4 + 2 + 32;
    if (p + 1 > end)
        return 0;
    p += 1 + b[p]; /* session id */
    if (p + 2 > end)
        return 0;
    p += 2 + ((size_t)b[p] << 8 | b[p + 1]); /* cipher suites */
    if (p + 1 > end)
        return 0;
    p += 1 + b[p]; /* compression methods */
    if (p + 2 > end)
        return 0;
    size_t ext_end = p + 2 + ((size_t)b[p] << 8 | b[p + 1]);
    p += 2;
    if (ext_end > end)
        ext_end = end;
    while (p + 4 <= ext_end) {
        unsigned type = (unsigned)b[p] << 8 | b[p + 1];
        size_t len = (size_t)b[p + 2] << 8 | b[p + 3];
        p += 4;
        if (p + len > ext_end)
            return 0;
        if (type == 16 && len >= 2) { /* application_layer_protocol_negotiation */
            size_t q = p + 2, lend = p + 2 + ((size_t)b[p] << 8 | b[p + 1]);
            if (lend > p + len)
                lend = p + len;
            int h2 = 0, h1 = 0;
            while (q < lend) {
                size_t l = b[q++];
                if (q + l > lend)
                    break;
                if (l == 2 && b[q] == 'h' && b[q + 1] == '2')
                    h2 = 1;
                if (l == 8 && !memcmp(b + q, "http/1.1", 8))
                    h1 = 1;
                q += l;
            }
            return h2 && !h1;
        }
        p += len;
    }
    return 0;
}

static void drop_sniff(srv_front *f, size_t i, int close_fd)
{
    if (f->sn[i].refused) {
        close(f->sn[i].fd); /* never counted in the cap */
        f->nrefused--;
    } else if (close_fd) {
        close(f->sn[i].fd);
        srv_conns_close(f->ctx->conns);
    }
    f->sn[i] = f->sn[--f->nsn];
}

/* A refused connection: discards what it sends; closes it when it closes or at the linger's
 * end (closing with unread bytes would reset it, and the client could lose the answer). */
static void drain_refused(srv_front *f, size_t i, uint64_t now)
{
    for (;;) {
        ssize_t n = recv(f->sn[i].fd, f->peek, PEEK_MAX, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            now >= f->sn[i].deadline_ms)
            drop_sniff(f, i, 1);
        return;
    }
}

/* Looks at what connection i has sent: hands it to a protocol, drops it, or waits. */
static void try_decide(srv_front *f, size_t i, uint64_t now)
{
    sniff *s = &f->sn[i];
    if (s->refused) {
        drain_refused(f, i, now);
        return;
    }
    ssize_t n = recv(s->fd, f->peek, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop_sniff(f, i, 1); /* gone before it said anything */
        return;
    }
    int h2 = -1;
    if (n > 0) {
        if (f->tls) {
            h2 = client_hello_offers_h2(f->peek, (size_t)n, 0);
        } else {
            size_t m = (size_t)n < PREFACE_LEN ? (size_t)n : PREFACE_LEN;
            if (memcmp(f->peek, PREFACE, m))
                h2 = 0;
            else if (m == PREFACE_LEN)
                h2 = 1;
        }
    }
    if (h2 < 0) {
        if (now >= s->deadline_ms) {
            srv_log(SRV_LOG_DEBUG, "closing a connection that sent too little to tell its "
                                   "protocol within %d s", f->ctx->cfg->timeout);
            drop_sniff(f, i, 1);
        }
        return;
    }
    sniff taken = *s;
    drop_sniff(f, i, 0);
    srv_loops_add(h2 ? f->h2 : f->http, taken.fd);
}

/* Past the cap: without TLS the connection gets HTTP 503 with Milvus's code 2 at once (a REST
 * client reads it; a gRPC client sees an HTTP/1.1 answer to its preface and fails the call),
 * then lingers a little; under TLS it is closed (a plain answer would be no TLS record). */
static void refuse_connection(srv_front *f, sniff *s)
{
    static uint64_t last_log_ms;
    uint64_t now = now_ms();
    if (now - last_log_ms > 10000) { /* once in 10 s: a flood must not flood the log */
        last_log_ms = now;
        srv_log(SRV_LOG_WARN, "refusing connections: %d are open (--max-connections)",
                f->ctx->cfg->max_conns);
    }
    if (f->tls) {
        close(s->fd);
        return;
    }
    ssize_t n = send(s->fd, f->busy, f->busy_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n; /* a fresh socket's buffer takes it; if not, the close says enough */
    shutdown(s->fd, SHUT_WR);
    s->refused = 1;
    s->deadline_ms = now + REFUSE_LINGER_MS;
    f->sn[f->nsn++] = *s;
    f->nrefused++;
    drain_refused(f, f->nsn - 1, now);
}

static void accept_some(srv_front *f)
{
    for (int k = 0; k < 64; k++) {
        int counted = srv_conns_try_open(f->ctx->conns);
        if (!counted && f->nrefused >= REFUSING_MAX)
            return; /* at the cap and refusing many already: the rest wait in the backlog */
        sniff s = {0};
        s.alen = sizeof s.addr;
        s.fd = accept4(f->lfd, (struct sockaddr *)&s.addr, &s.alen, SOCK_CLOEXEC);
        if (s.fd < 0) {
            if (counted)
                srv_conns_close(f->ctx->conns);
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                srv_log(SRV_LOG_WARN, "accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (f->nsn == f->capsn) {
            size_t cap = f->capsn ? f->capsn * 2 : 16;
            sniff *ns = realloc(f->sn, cap * sizeof *ns);
            if (!ns) {
                close(s.fd);
                if (counted)
                    srv_conns_close(f->ctx->conns);
                return;
            }
            f->sn = ns;
            f->capsn = cap;
        }
        if (!counted) {
            refuse_connection(f, &s);
            continue;
        }
        s.deadline_ms = now_ms() + (uint64_t)f->ctx->cfg->timeout * 1000;
        f->sn[f->nsn++] = s;
        try_decide(f, f->nsn - 1, now_ms()); /* the first bytes often came with it */
    }
}

static void *front_loop(void *arg)
{
    srv_front *f = arg;
    struct pollfd *pf = NULL;
    size_t cap = 0;
    for (;;) {
        if (cap < f->nsn + 3) {
            cap = (f->nsn + 3) * 2;
            struct pollfd *np = realloc(pf, cap * sizeof *np);
            if (!np) {
                srv_log(SRV_LOG_ERROR, "out of memory in the accept loop");
                sleep(1);
                continue;
            }
            pf = np;
        }
        nfds_t n = 0;
        pf[n++] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = srv_conns_wake_fd(f->ctx->conns), .events = POLLIN};
        int listening = !srv_conns_full(f->ctx->conns) || f->nrefused < REFUSING_MAX;
        pf[n++] = (struct pollfd){.fd = listening ? f->lfd : -1, .events = POLLIN};
        uint64_t now = now_ms(), next = now + 60000;
        for (size_t i = 0; i < f->nsn; i++) {
            pf[n++] = (struct pollfd){.fd = f->sn[i].fd, .events = POLLIN};
            if (f->sn[i].deadline_ms < next)
                next = f->sn[i].deadline_ms;
        }
        int rc = poll(pf, n, (int)(next > now ? next - now : 0) + 1);
        if (rc < 0 && errno != EINTR) {
            srv_log(SRV_LOG_ERROR, "poll: %s", strerror(errno));
            sleep(1);
            continue;
        }
        if (pf[0].revents)
            break;
        if (pf[1].revents)
            srv_conns_drain_wake(f->ctx->conns);
        now = now_ms();
        /* sniffers first (from the end: drop_sniff moves the last one into the hole) */
        for (size_t i = f->nsn; i-- > 0;)
            if (pf[3 + i].revents || now >= f->sn[i].deadline_ms)
                try_decide(f, i, now);
        if (listening && pf[2].revents)
            accept_some(f);
    }
    free(pf);
    return NULL;
}

srv_front *srv_front_start(srv_ctx *ctx, srv_http *http, srv_h2 *h2)
{
    const srv_config *cfg = ctx->cfg;
    srv_front *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->ctx = ctx;
    f->http = http;
    f->h2 = h2;
    f->lfd = f->stop_fd = -1;
    f->tls = cfg->tls_cert != NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        srv_log(SRV_LOG_ERROR, "cannot resolve --host %s: %s", cfg->host, gai_strerror(gai));
        goto fail;
    }
    if (!(f->peek = malloc(PEEK_MAX)))
        goto fail;
    char msg[160];
    int ml = snprintf(msg, sizeof msg, "{\"code\":2,\"message\":\"service unavailable: too many "
                      "connections (--max-connections %d)\"}", cfg->max_conns);
    f->busy_len = (size_t)snprintf(f->busy, sizeof f->busy, "HTTP/1.1 503 Service Unavailable\r\n"
                                   "Content-Type: application/json\r\nContent-Length: %d\r\n"
                                   "Connection: close\r\nRetry-After: 1\r\n\r\n%s", ml, msg);
    f->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (f->lfd < 0 || setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(f->lfd, ai->ai_addr, ai->ai_addrlen) || listen(f->lfd, 511)) {
        srv_log(SRV_LOG_ERROR, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    int bport = cfg->port;
    if (getsockname(f->lfd, (struct sockaddr *)&bound, &blen) == 0)
        bport = ntohs(bound.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&bound)->sin6_port
                          : ((struct sockaddr_in *)&bound)->sin_port);
    f->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (f->stop_fd < 0 || pthread_create(&f->thread, NULL, front_loop, f) != 0) {
        srv_log(SRV_LOG_ERROR, "cannot start the accept loop");
        goto fail;
    }
    f->running = 1;
    char shown[64];
    snprintf(shown, sizeof shown, ai->ai_family == AF_INET6 ? "[%s]" : "%s", cfg->host);
    freeaddrinfo(ai);
    /* on stdout, one line, for scripts that start the server on --port 0 */
    printf("vdb-server listening on %s://%s:%d\n", f->tls ? "https" : "http", shown, bport);
    fflush(stdout);
    srv_log(SRV_LOG_INFO, "listening on %s:%d: REST (HTTP/1.1) and gRPC (HTTP/2)%s, %d read + "
            "%d write workers, at most %d connections, requests and messages up to %llu "
            "bytes%s", shown, bport, f->tls ? " over TLS" : "", cfg->threads,
            srv_write_workers(cfg), cfg->max_conns, (unsigned long long)cfg->max_body,
            cfg->token ? ", token required" : "");
    return f;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->stop_fd >= 0)
        close(f->stop_fd);
    free(f->peek);
    free(f);
    return NULL;
}

void srv_front_stop(srv_front *f)
{
    if (!f)
        return;
    if (f->running) {
        uint64_t one = 1;
        ssize_t n = write(f->stop_fd, &one, sizeof one);
        (void)n;
        pthread_join(f->thread, NULL);
        f->running = 0;
    }
    for (size_t i = f->nsn; i-- > 0;)
        drop_sniff(f, i, 1);
    if (f->lfd >= 0)
        close(f->lfd);
    f->lfd = -1;
    close(f->stop_fd);
    f->stop_fd = -1;
    free(f->sn);
    f->sn = NULL;
    free(f->peek);
    f->peek = NULL;
    free(f);
}

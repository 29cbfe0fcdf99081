/* vdb-server — the event loops HTTP/1.1 and HTTP/2 share (loop.h says what is where). */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

uint64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake(srv_loop *lp)
{
    uint64_t one = 1;
    ssize_t n = write(lp->wake_fd, &one, sizeof one);
    (void)n; /* a full counter wakes the loop as well */
}

void srv_loops_active_add(srv_loops *ls, int d)
{
    pthread_mutex_lock(&ls->mu);
    ls->active += d;
    if (ls->active <= 0)
        pthread_cond_broadcast(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
}

int srv_loops_stopping(srv_loops *ls)
{
    pthread_mutex_lock(&ls->mu);
    int s = ls->stopping;
    pthread_mutex_unlock(&ls->mu);
    return s;
}

int srv_loop_quiescing(srv_loop *lp)
{
    pthread_mutex_lock(&lp->mu);
    int q = lp->quiesce;
    pthread_mutex_unlock(&lp->mu);
    return q;
}

void srv_loop_finish(srv_loop *lp, srv_done *d)
{
    pthread_mutex_lock(&lp->mu);
    d->next = lp->done;
    lp->done = d;
    pthread_mutex_unlock(&lp->mu);
    wake(lp);
}

/* ---- a connection's socket ------------------------------------------------------------------ */

void srv_lconn_set_events(srv_lconn *c, int events)
{
    if (events == c->events || c->dead)
        return;
    struct epoll_event ev = {.events = (uint32_t)events, .data.ptr = c};
    if (epoll_ctl(c->lp->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

ssize_t srv_lconn_read(srv_lconn *c, void *buf, size_t n)
{
    if (c->tls) {
        ssize_t r = gnutls_record_recv(c->tls, buf, n);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            errno = EAGAIN;
            return -1;
        }
        if (r < 0) {
            srv_log(SRV_LOG_DEBUG, "%s: TLS: %s", c->lp->ls->ops->name, gnutls_strerror((int)r));
            errno = ECONNRESET;
            return -1;
        }
        return r;
    }
    return recv(c->fd, buf, n, 0);
}

ssize_t srv_lconn_write(srv_lconn *c, const void *p, size_t n)
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
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

int srv_lconn_pending(srv_lconn *c)
{
    return c->tls && gnutls_record_check_pending(c->tls);
}

int srv_lconn_handshake(srv_lconn *c)
{
    int rc = gnutls_handshake(c->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        srv_lconn_set_events(c, gnutls_record_get_direction(c->tls) == 1
                                    ? (int)c->lp->ls->ops->handshake_out : EPOLLIN);
        return 0;
    }
    if (rc < 0) {
        srv_log(SRV_LOG_DEBUG, "%s: TLS handshake failed: %s", c->lp->ls->ops->name,
                gnutls_strerror(rc));
        return -1;
    }
    c->handshaking = 0;
    srv_lconn_set_events(c, EPOLLIN);
    return 1;
}

void srv_lconn_close(srv_lconn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->lp->ls->ops->close(c);
    if (c->tls) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
    }
    close(c->fd);
    srv_conns_close(c->lp->ls->ctx->conns);
}

void srv_lconn_free_if_done(srv_lconn *c)
{
    if (!c->dead || c->running)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->lp->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->lp->ls->ops->free(c);
    free(c);
}

static void conn_add(srv_loop *lp, int fd)
{
    srv_loops *ls = lp->ls;
    const srv_loop_ops *ops = ls->ops;
    srv_lconn *c = calloc(1, ops->conn_size);
    int opened = 0;
    if (!c) {
        close(fd);
        srv_conns_close(ls->ctx->conns);
        return;
    }
    c->lp = lp;
    c->fd = fd;
    c->events = EPOLLIN;
    if (ls->tls) {
        if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) != 0 ||
            gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, ls->cred) != 0 ||
            gnutls_set_default_priority(c->tls) != 0) {
            srv_log(SRV_LOG_ERROR, "%s: cannot set up TLS for a connection", ops->name);
            goto fail;
        }
        gnutls_datum_t alpn = {(unsigned char *)ops->alpn, (unsigned)strlen(ops->alpn)};
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, 0);
        gnutls_transport_set_int(c->tls, fd);
        gnutls_handshake_set_timeout(c->tls, 0);
        c->handshaking = 1;
    }
    if (ops->open(c) != 0)
        goto fail;
    opened = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        goto fail;
    c->next = lp->conns;
    if (lp->conns)
        lp->conns->prev = c;
    lp->conns = c;
    if (ops->added)
        ops->added(c);
    ops->event(c, EPOLLIN); /* the first bytes (or the ClientHello) are already there */
    srv_lconn_free_if_done(c);
    return;
fail:
    if (opened)
        ops->close(c);
    if (c->tls)
        gnutls_deinit(c->tls);
    ops->free(c);
    free(c);
    close(fd);
    srv_conns_close(ls->ctx->conns);
}

/* New connections, and what workers finished. */
static void take_done(srv_loop *lp)
{
    pthread_mutex_lock(&lp->mu);
    srv_done *list = lp->done;
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
        srv_done *d = list;
        list = d->next;
        lp->ls->ops->done(lp, d);
    }
}

/* 1 if a connection still has requests in flight or answers not yet written. */
static int loop_busy(srv_loop *lp)
{
    for (srv_lconn *c = lp->conns; c; c = c->next)
        if (!c->dead && (c->running || lp->ls->ops->busy(c)))
            return 1;
    return 0;
}

static void *loop_main(void *arg)
{
    srv_loop *lp = arg;
    const srv_loop_ops *ops = lp->ls->ops;
    struct epoll_event evs[64];
    uint64_t last_sweep = srv_now_ms();
    for (;;) {
        int n = epoll_wait(lp->ep, evs, 64, ops->wait_ms);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == lp) {
                uint64_t v;
                while (read(lp->wake_fd, &v, sizeof v) == sizeof v)
                    ;
                continue;
            }
            srv_lconn *c = evs[i].data.ptr;
            ops->event(c, evs[i].events);
            srv_lconn_free_if_done(c);
        }
        take_done(lp);
        pthread_mutex_lock(&lp->mu);
        int stop = lp->stop, quiesce = lp->quiesce;
        pthread_mutex_unlock(&lp->mu);
        if (stop)
            break;
        uint64_t now = srv_now_ms();
        if (now - last_sweep >= 250 || quiesce) {
            ops->sweep(lp, now, quiesce);
            last_sweep = now;
        }
        __atomic_store_n(&lp->busy, loop_busy(lp), __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ---- the loops -------------------------------------------------------------------------------- */

srv_loops *srv_loops_start(srv_ctx *ctx, const srv_loop_ops *ops)
{
    const srv_config *cfg = ctx->cfg;
    srv_loops *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    ls->ctx = ctx;
    ls->ops = ops;
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->cv, NULL);
    if (cfg->tls_cert) {
        if (gnutls_certificate_allocate_credentials(&ls->cred) != 0 ||
            gnutls_certificate_set_x509_key_file(ls->cred, cfg->tls_cert, cfg->tls_key,
                                                 GNUTLS_X509_FMT_PEM) < 0) {
            srv_log(SRV_LOG_ERROR, "%s: cannot load the TLS certificate %s and key %s",
                    ops->name, cfg->tls_cert, cfg->tls_key);
            goto fail;
        }
        ls->tls = 1;
    }
    ls->nloops = cfg->io_threads > 0 ? cfg->io_threads : 1;
    ls->loops = calloc((size_t)ls->nloops, sizeof *ls->loops);
    if (!ls->loops)
        goto fail;
    for (int i = 0; i < ls->nloops; i++) {
        srv_loop *lp = &ls->loops[i];
        lp->ls = ls;
        pthread_mutex_init(&lp->mu, NULL);
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lp};
        if (lp->ep < 0 || lp->wake_fd < 0 ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake_fd, &ev) != 0 ||
            pthread_create(&lp->thread, NULL, loop_main, lp) != 0) {
            srv_log(SRV_LOG_ERROR, "cannot start %s connection thread %d", ops->proto, i);
            if (lp->ep >= 0)
                close(lp->ep);
            if (lp->wake_fd >= 0)
                close(lp->wake_fd);
            pthread_mutex_destroy(&lp->mu);
            ls->nloops = i;
            srv_loops_stop(ls);
            return NULL;
        }
    }
    return ls;
fail:
    if (ls->cred)
        gnutls_certificate_free_credentials(ls->cred);
    pthread_mutex_destroy(&ls->mu);
    pthread_cond_destroy(&ls->cv);
    free(ls);
    return NULL;
}

void srv_loops_add(srv_loops *ls, int fd)
{
    srv_loop *lp = &ls->loops[__atomic_fetch_add(&ls->next, 1, __ATOMIC_RELAXED) % ls->nloops];
    pthread_mutex_lock(&lp->mu);
    if (lp->nin == lp->capin) {
        size_t cap = lp->capin ? lp->capin * 2 : 8;
        int *ni = realloc(lp->incoming, cap * sizeof *ni);
        if (!ni) {
            pthread_mutex_unlock(&lp->mu);
            srv_log(SRV_LOG_WARN, "cannot take an %s connection: out of memory",
                    ls->ops->proto);
            close(fd);
            srv_conns_close(ls->ctx->conns);
            return;
        }
        lp->incoming = ni;
        lp->capin = cap;
    }
    lp->incoming[lp->nin++] = fd;
    pthread_mutex_unlock(&lp->mu);
    wake(lp);
}

void srv_loops_quiesce(srv_loops *ls)
{
    pthread_mutex_lock(&ls->mu);
    ls->stopping = 1;
    pthread_mutex_unlock(&ls->mu);
    for (int i = 0; i < ls->nloops; i++) {
        pthread_mutex_lock(&ls->loops[i].mu);
        ls->loops[i].quiesce = 1;
        pthread_mutex_unlock(&ls->loops[i].mu);
        wake(&ls->loops[i]);
    }
}

int srv_loops_drain(srv_loops *ls, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&ls->mu);
    while (ls->active > 0)
        if (pthread_cond_timedwait(&ls->cv, &ls->mu, &until) == ETIMEDOUT)
            break;
    int left = ls->active;
    pthread_mutex_unlock(&ls->mu);
    /* answered is not yet written: give the loops the rest of the time to send */
    for (;;) {
        int busy = 0;
        for (int i = 0; i < ls->nloops; i++)
            busy |= __atomic_load_n(&ls->loops[i].busy, __ATOMIC_RELAXED);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!busy || now.tv_sec >= until.tv_sec)
            break;
        struct timespec ten = {0, 10 * 1000000};
        nanosleep(&ten, NULL);
    }
    return left;
}

void srv_loops_stop(srv_loops *ls)
{
    if (!ls)
        return;
    for (int i = 0; i < ls->nloops; i++) {
        srv_loop *lp = &ls->loops[i];
        pthread_mutex_lock(&lp->mu);
        lp->stop = 1;
        pthread_mutex_unlock(&lp->mu);
        wake(lp);
        pthread_join(lp->thread, NULL);
        /* the pools were stopped first: nothing runs; answers not sent are dropped */
        take_done(lp);
        for (srv_lconn *c = lp->conns; c;) {
            srv_lconn *next = c->next;
            ls->ops->flush(c);
            srv_lconn_close(c);
            c->running = 0;
            srv_lconn_free_if_done(c);
            c = next;
        }
        for (size_t k = 0; k < lp->nin; k++) {
            close(lp->incoming[k]);
            srv_conns_close(ls->ctx->conns);
        }
        free(lp->incoming);
        close(lp->ep);
        close(lp->wake_fd);
        pthread_mutex_destroy(&lp->mu);
    }
    free(ls->loops);
    if (ls->cred)
        gnutls_certificate_free_credentials(ls->cred);
    pthread_mutex_destroy(&ls->mu);
    pthread_cond_destroy(&ls->cv);
    free(ls);
}

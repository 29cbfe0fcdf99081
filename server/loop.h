/* vdb-server — the event loops HTTP/1.1 (http.c) and HTTP/2 (h2.c) share (loop.c): per
 * io thread an epoll loop with a wake eventfd, the hand-over of accepted sockets, the list of
 * work that workers finished, TLS (credentials, handshake, record I/O), the count of requests
 * in flight that drain waits for, and stop. A protocol fills an srv_loop_ops and embeds an
 * srv_lconn as the first member of its connection; everything else is its own.
 *
 * Threads: each loop thread owns its connections (the protocol's callbacks run on it). A worker
 * that finishes hands its item (an srv_done embedded in the protocol's request) to
 * srv_loop_finish, which queues it and wakes the loop; the loop passes it to ops->done. */
#ifndef VDB_SERVER_LOOP_H
#define VDB_SERVER_LOOP_H

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server.h"

typedef struct srv_loop srv_loop;

/* A node of a loop's done list (embed it; find the container with offsetof). */
typedef struct srv_done {
    struct srv_done *next;
} srv_done;

/* The part of a connection the loop keeps (the first member of the protocol's connection). */
typedef struct srv_lconn {
    srv_loop *lp;
    int fd;
    gnutls_session_t tls; /* NULL without TLS, and once closed */
    int handshaking;
    int events;  /* what epoll waits for now */
    int dead;    /* socket closed; freed when running reaches 0 */
    int running; /* its requests on a worker */
    struct srv_lconn *prev, *next;
} srv_lconn;

typedef struct srv_loop_ops {
    const char *name;       /* log prefix: "http", "grpc" */
    const char *proto;      /* "HTTP/1.1", "HTTP/2" (log messages) */
    const char *alpn;       /* the TLS ALPN protocol offered */
    size_t conn_size;       /* sizeof the protocol's connection */
    int wait_ms;            /* epoll_wait's timeout */
    uint32_t handshake_out; /* what epoll waits for while the TLS handshake wants to write */
    /* A new connection (calloc'd, fd, tls set): the protocol's state; -1 fails (what it made
     * itself is undone by close). */
    int (*open)(srv_lconn *c);
    /* It is in its loop's list: e.g. refuse at once while quiescing, then its first event. */
    void (*added)(srv_lconn *c);
    /* Readable or writable (ev: epoll's events). */
    void (*event)(srv_lconn *c, uint32_t ev);
    /* An item a worker finished (srv_loop_finish). */
    void (*done)(srv_loop *lp, srv_done *d);
    /* Writes what can be written without waiting (at stop). */
    void (*flush)(srv_lconn *c);
    /* The protocol's part of closing (before TLS and the socket go). */
    void (*close)(srv_lconn *c);
    /* Frees the protocol's buffers (not c itself). */
    void (*free)(srv_lconn *c);
    /* Closes connections idle or too slow (at least every 250 ms, and each turn while
     * quiescing). */
    void (*sweep)(srv_loop *lp, uint64_t now, int quiesce);
    /* 1 if c (not dead, nothing running) still has an answer to write or a request begun. */
    int (*busy)(srv_lconn *c);
} srv_loop_ops;

struct srv_loop {
    srv_loops *ls;
    pthread_t thread;
    int ep, wake_fd;
    pthread_mutex_t mu;
    srv_done *done;    /* finished by workers, for this loop to take */
    int *incoming;     /* fds handed over by front.c */
    size_t nin, capin;
    int stop, quiesce;
    int busy;          /* a connection has requests or answers not yet written (drain waits) */
    srv_lconn *conns;
};

struct srv_loops {
    srv_ctx *ctx;
    const srv_loop_ops *ops;
    int nloops;
    srv_loop *loops;
    unsigned next;
    gnutls_certificate_credentials_t cred;
    int tls;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;   /* requests begun and not answered */
    int stopping; /* quiesced */
};

uint64_t srv_now_ms(void);

/* Loads the TLS credentials (when configured) and starts cfg->io_threads loops; NULL on
 * error (logged; everything undone). srv_loops_add, _quiesce (sets stopping and each loop's
 * quiesce), _drain and _stop are in server.h. */
srv_loops *srv_loops_start(srv_ctx *ctx, const srv_loop_ops *ops);
int srv_loops_stopping(srv_loops *ls);
/* active += d (drain is woken when it reaches 0). */
void srv_loops_active_add(srv_loops *ls, int d);

int srv_loop_quiescing(srv_loop *lp);
/* Queues d on its loop and wakes it (a worker's last step). */
void srv_loop_finish(srv_loop *lp, srv_done *d);

void srv_lconn_set_events(srv_lconn *c, int events);
/* Closes the socket (once): the protocol's close, TLS, the fd, the connection slot. */
void srv_lconn_close(srv_lconn *c);
/* Unlinks and frees c when it is closed and nothing runs. */
void srv_lconn_free_if_done(srv_lconn *c);
/* recv / send through TLS when on: -1 with errno EAGAIN to wait, other errno when broken. */
ssize_t srv_lconn_read(srv_lconn *c, void *buf, size_t n);
ssize_t srv_lconn_write(srv_lconn *c, const void *p, size_t n);
/* 1 if TLS holds decrypted bytes not yet read. */
int srv_lconn_pending(srv_lconn *c);
/* Goes on with the TLS handshake: 1 done (epoll waits for input), 0 not yet (epoll waits
 * for what it needs), -1 failed (logged). */
int srv_lconn_handshake(srv_lconn *c);

#endif

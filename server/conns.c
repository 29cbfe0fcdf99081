/* vdb-server — the connection cap both protocols share: a count of open connections that the
 * accept loop checks (past the cap front.c answers 503 and closes, uncounted). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server.h"

struct srv_conns {
    pthread_mutex_t mu;
    int open, max;
    int wake_fd; /* written when a slot frees while the accept loop may be waiting */
};

srv_conns *srv_conns_create(int max)
{
    srv_conns *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->max = max > 0 ? max : 1;
    return c;
}

void srv_conns_destroy(srv_conns *c)
{
    if (!c)
        return;
    close(c->wake_fd);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int srv_conns_try_open(srv_conns *c)
{
    pthread_mutex_lock(&c->mu);
    int ok = c->open < c->max;
    if (ok)
        c->open++;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

int srv_conns_full(srv_conns *c)
{
    pthread_mutex_lock(&c->mu);
    int full = c->open >= c->max;
    pthread_mutex_unlock(&c->mu);
    return full;
}

void srv_conns_close(srv_conns *c)
{
    pthread_mutex_lock(&c->mu);
    int was_full = c->open >= c->max;
    if (c->open > 0)
        c->open--;
    pthread_mutex_unlock(&c->mu);
    if (was_full) {
        uint64_t one = 1;
        ssize_t n = write(c->wake_fd, &one, sizeof one);
        (void)n; /* a full counter already wakes the loop */
    }
}

int srv_conns_wake_fd(const srv_conns *c)
{
    return c->wake_fd;
}

void srv_conns_drain_wake(srv_conns *c)
{
    uint64_t v;
    while (read(c->wake_fd, &v, sizeof v) == sizeof v)
        ;
}

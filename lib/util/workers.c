/* The worker pool: one mutex-guarded FIFO, threads that pop and run, and a record of what
 * each thread is running so that a cancel can wait for a given owner's jobs to end. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

#include "util/util.h"
#include "workers.h"

struct vdb_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued, or stop */
    pthread_cond_t idle_cv; /* a running job finished */
    vdb_job *head, *tail;
    bool stop;
    uint32_t nthreads, started;
    pthread_t *threads;
    vdb_job **running;      /* per thread: its job, or NULL */
};

typedef struct worker_arg {
    vdb_pool *p;
    uint32_t i;
} worker_arg;

static void *worker(void *arg)
{
    vdb_pool *p = ((worker_arg *)arg)->p;
    uint32_t me = ((worker_arg *)arg)->i;
    vdb_free(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (!p->head)
            break; /* stop, and nothing left */
        vdb_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->running[me] = j;
        pthread_mutex_unlock(&p->mu);
        /* read before the job is marked done: once it is, its owner may free it */
        void (*release)(vdb_job *, bool) = j->release;
        j->run(j);
        pthread_mutex_lock(&p->mu);
        p->running[me] = NULL;
        pthread_cond_broadcast(&p->idle_cv);
        pthread_mutex_unlock(&p->mu);
        if (release)
            release(j, true);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

vdb_status vdb_pool_new(uint32_t threads, const char *name, vdb_pool **out)
{
    *out = NULL;
    if (threads < 1)
        threads = 1;
    vdb_pool *p = vdb_calloc(1, sizeof *p);
    if (!p || !(p->threads = vdb_calloc(threads, sizeof *p->threads)) ||
        !(p->running = vdb_calloc(threads, sizeof *p->running))) {
        if (p)
            vdb_free(p->threads);
        vdb_free(p);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    p->nthreads = threads;
    for (uint32_t i = 0; i < threads; i++) {
        worker_arg *a = vdb_malloc(sizeof *a);
        if (a)
            *a = (worker_arg){p, i};
        if (!a || pthread_create(&p->threads[i], NULL, worker, a) != 0) {
            vdb_free(a);
            vdb_pool_free(p);
            return vdb_set_errmsg(VDB_EIO, "could not start %s worker thread %u", name, i);
        }
        p->started++;
        char tname[16];
        snprintf(tname, sizeof tname, "%.10s-%u", name, i % 1000);
        pthread_setname_np(p->threads[i], tname);
    }
    *out = p;
    return VDB_OK;
}

uint32_t vdb_pool_threads(const vdb_pool *p) { return p->nthreads; }

void vdb_pool_submit(vdb_pool *p, vdb_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

void vdb_pool_cancel(vdb_pool *p, const void *owner)
{
    vdb_job *dropped = NULL, **pp;
    pthread_mutex_lock(&p->mu);
    p->tail = NULL;
    for (pp = &p->head; *pp;) {
        vdb_job *j = *pp;
        if (!owner || j->owner == owner) {
            *pp = j->next;
            j->next = dropped;
            dropped = j;
        } else {
            p->tail = j;
            pp = &j->next;
        }
    }
    for (;;) {
        bool busy = false;
        for (uint32_t i = 0; i < p->nthreads && !busy; i++)
            busy = p->running[i] && (!owner || p->running[i]->owner == owner);
        if (!busy)
            break;
        pthread_cond_wait(&p->idle_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    while (dropped) {
        vdb_job *j = dropped;
        dropped = j->next;
        if (j->release)
            j->release(j, false);
    }
}

void vdb_pool_free(vdb_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    vdb_pool_cancel(p, NULL);
    for (uint32_t i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->idle_cv);
    vdb_free(p->threads);
    vdb_free(p->running);
    vdb_free(p);
}

/* ---- parallel for ---- */

typedef struct for_group {
    void (*fn)(void *arg, size_t i, uint32_t slot);
    void *arg;
    size_t n;
    size_t next;       /* atomic: the next task to take */
    uint32_t slots;    /* atomic: slots handed to helpers so far */
} for_group;

typedef struct for_helper {
    vdb_job job;
    for_group *g;
} for_helper;

static void take_tasks(for_group *g, uint32_t slot)
{
    for (;;) {
        size_t i = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED);
        if (i >= g->n)
            return;
        g->fn(g->arg, i, slot);
    }
}

static void helper_run(vdb_job *j)
{
    for_group *g = ((for_helper *)j)->g;
    take_tasks(g, __atomic_add_fetch(&g->slots, 1, __ATOMIC_RELAXED));
}

void vdb_pool_for(vdb_pool *p, size_t n, uint32_t helpers,
                  void (*fn)(void *arg, size_t i, uint32_t slot), void *arg)
{
    for_group g = {fn, arg, n, 0, 0};
    if (!p || n < 2)
        helpers = 0;
    helpers = (uint32_t)VDB_MIN(helpers, n - (n > 0));
    for_helper *h = helpers ? vdb_calloc(helpers, sizeof *h) : NULL;
    if (!h)
        helpers = 0; /* no memory for helpers: the caller does it all */
    for (uint32_t i = 0; i < helpers; i++) {
        h[i] = (for_helper){{helper_run, NULL, &g, NULL}, &g};
        vdb_pool_submit(p, &h[i].job);
    }
    take_tasks(&g, 0);
    /* every task has been taken: helpers still queued have nothing left to do */
    if (helpers)
        vdb_pool_cancel(p, &g);
    vdb_free(h);
}

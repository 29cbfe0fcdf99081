/* vdb-server — the standalone server's life: configure, open the database, serve, and on
 * SIGTERM/SIGINT stop accepting, finish what is in flight and close the database cleanly. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static int open_db(const srv_config *cfg, vdb_db **db)
{
    vdb_options o;
    vdb_options_init(&o);
    o.log_uri = cfg->log_uri;
    o.meta_uri = cfg->meta_uri;
    o.object_uri = cfg->object_uri;
    if (cfg->sync && !strcmp(cfg->sync, "batch"))
        o.sync = VDB_SYNC_BATCH;
    else if (cfg->sync && !strcmp(cfg->sync, "off"))
        o.sync = VDB_SYNC_OFF;
    vdb_status st = vdb_open(cfg->data, &o, db);
    if (st != VDB_OK) {
        srv_log(SRV_LOG_ERROR, "cannot open the database in %s: %s (%s)", cfg->data,
                vdb_errmsg(NULL), vdb_status_name(st));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    srv_config cfg;
    int rc = srv_config_load(&cfg, argc, argv);
    if (rc != 0) {
        srv_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    /* Signals are taken by this thread alone (sigwait): block them before any thread starts,
     * so every thread inherits the mask. A client that goes away mid-answer is no signal. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0); /* jansson's hash seed, once, before threads */

    srv_log(SRV_LOG_INFO, "vdb-server %s on libvdb %s, data in %s", VDB_VERSION_STRING,
            vdb_version(), cfg.data);
    vdb_db *db;
    if (open_db(&cfg, &db) != 0) {
        srv_config_free(&cfg);
        return 1;
    }
    srv_ctx ctx = {.db = db, .cfg = &cfg};
    pthread_rwlock_init(&ctx.schema_lock, NULL);
    srv_http *http = NULL;
    srv_h2 *h2 = NULL;
    srv_front *front = NULL;
    ctx.reads = srv_pool_create(cfg.threads, "vdb-read");
    ctx.writes = srv_pool_create(srv_write_workers(&cfg), "vdb-write");
    ctx.conns = srv_conns_create(cfg.max_conns);
    if (!ctx.reads || !ctx.writes || !ctx.conns || !(http = srv_http_start(&ctx)) ||
        !(h2 = srv_h2_start(&ctx)) || !(front = srv_front_start(&ctx, http, h2))) {
        srv_pool_destroy(ctx.reads); /* stops the lanes before the fronts go */
        srv_pool_destroy(ctx.writes);
        srv_loops_stop(h2);
        srv_loops_stop(http);
        srv_conns_destroy(ctx.conns);
        vdb_close(db);
        srv_config_free(&cfg);
        return 1;
    }

    int sig = 0;
    sigwait(&stop, &sig);
    srv_log(SRV_LOG_INFO, "%s: no new connections; finishing the requests in flight (up to %d s)",
            sig == SIGINT ? "SIGINT" : "SIGTERM", cfg.drain_timeout);
    srv_front_stop(front);
    srv_loops_quiesce(http);
    srv_loops_quiesce(h2);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int left = srv_loops_drain(http, cfg.drain_timeout);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int spent = (int)(t1.tv_sec - t0.tv_sec);
    left += srv_loops_drain(h2, cfg.drain_timeout > spent ? cfg.drain_timeout - spent : 0);
    if (left)
        srv_log(SRV_LOG_WARN, "%d request(s) still open after %d s: running ones finish, the "
                "others are closed", left, cfg.drain_timeout);
    /* requests already on a worker finish (and hand back their answers) before the fronts go */
    srv_pool_stop(ctx.reads);
    srv_pool_stop(ctx.writes);
    srv_loops_stop(http);
    srv_loops_stop(h2);
    srv_pool_destroy(ctx.reads);
    srv_pool_destroy(ctx.writes);
    srv_conns_destroy(ctx.conns);
    pthread_rwlock_destroy(&ctx.schema_lock);
    vdb_close(db);
    srv_log(SRV_LOG_INFO, "stopped; the database is closed");
    srv_config_free(&cfg);
    return 0;
}

/* Time ticks and the trimming of the log: the ticker thread, and the holds of change streams
 * that truncation waits behind (tick.h says the rules). */
#include <time.h>

#include "core/tick.h"
#include "log/log.h"

/* A channel that holds only ticks since its checkpoint is trimmed to its last tick once this
 * many more have been written (at the default 200 ms, every 13 s or so), so that an idle
 * channel holds a bounded number of ticks without a truncate call per tick. */
#define TICKS_PER_TRIM 64

/* ---- holds ---- */

void vdb_hold_add(vdb_db *db, vdb_log_hold *h)
{
    pthread_mutex_lock(&db->hold_mu);
    h->next = db->holds;
    db->holds = h;
    pthread_mutex_unlock(&db->hold_mu);
}

void vdb_hold_remove(vdb_db *db, vdb_log_hold *h)
{
    pthread_mutex_lock(&db->hold_mu);
    for (vdb_log_hold **p = &db->holds; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&db->hold_mu);
}

void vdb_hold_move(vdb_db *db, vdb_log_hold *h, uint32_t s, uint64_t pos)
{
    pthread_mutex_lock(&db->hold_mu);
    if (s < h->nshards && pos > h->pos[s])
        h->pos[s] = pos;
    pthread_mutex_unlock(&db->hold_mu);
}

void vdb_log_trim(vdb_db *db, vdb_collection *c, uint32_t s, uint64_t upto)
{
    pthread_mutex_lock(&db->hold_mu);
    for (const vdb_log_hold *h = db->holds; h; h = h->next)
        if (h->coll_id == c->id && s < h->nshards)
            upto = VDB_MIN(upto, h->pos[s]);
    bool go = upto > c->shards[s].trim_pos;
    if (go)
        c->shards[s].trim_pos = upto;
    pthread_mutex_unlock(&db->hold_mu);
    /* Two trims of one channel may run at once (a seal's and the ticker's): each only ever
     * removes what both allow, in either order. */
    if (go && db->log.be->truncate(db->log.h, c->shards[s].channel, upto) != VDB_OK) {
        pthread_mutex_lock(&db->hold_mu);
        if (c->shards[s].trim_pos == upto)
            c->shards[s].trim_pos = 0; /* try again next time */
        pthread_mutex_unlock(&db->hold_mu);
        vdb_err_clear();
    }
}

/* ---- the ticker ---- */

/* Ticks the shards of c that had no write for interval_ms (write_mu held); *upto gets, per
 * shard, where its channel may be truncated. */
static void tick_collection(vdb_db *db, vdb_collection *c, uint64_t now_ms,
                            uint64_t interval_ms, uint64_t *upto)
{
    vdb_buf b = {0};
    for (uint32_t s = 0; s < c->nshards; s++) {
        vdb_shard *sh = &c->shards[s];
        uint64_t last = vdb_ts_physical(VDB_MAX(sh->last_ts, sh->tick_ts));
        uint64_t ts, pos;
        if (now_ms >= last + interval_ms && vdb_tso_next(db->tso, &ts) == VDB_OK) {
            vdb_rec_header h = {.type = VDB_REC_TICK, .parts = 1, .shard = s, .ts = ts,
                                .collection_id = c->id};
            b.len = 0;
            vdb_rec_encode(&h, NULL, 0, &b);
            if (!b.oom && db->log.be->append(db->log.h, sh->channel, b.p, b.len, &pos) == VDB_OK) {
                sh->tick_pos = pos;
                sh->tick_ts = ts;
                sh->ticks_untrimmed++;
            }
        }
        upto[s] = sh->ckpt_pos ? sh->ckpt_pos + 1 : 0;
        /* nothing but ticks since the checkpoint: the channel may go up to its last tick */
        if (sh->last_pos <= sh->ckpt_pos && sh->tick_pos > sh->ckpt_pos &&
            sh->ticks_untrimmed >= TICKS_PER_TRIM) {
            upto[s] = sh->tick_pos;
            sh->ticks_untrimmed = 0;
        }
    }
    vdb_buf_free(&b);
    vdb_err_clear(); /* a failed tick is tried again next time */
}

static void tick_all(vdb_db *db)
{
    uint64_t interval = db->opts.tick_interval_ms, upto[64];
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    for (size_t i = 0; i < db->catalog.n; i++) {
        vdb_collection *c = db->catalog.colls[i];
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        bool live = !c->dropped;
        if (live)
            tick_collection(db, c, vdb_now_ms(), interval, upto);
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
        for (uint32_t s = 0; live && s < c->nshards; s++)
            if (upto[s])
                vdb_log_trim(db, c, s, upto[s]);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
}

static void *ticker(void *arg)
{
    vdb_db *db = arg;
    /* looking twice per interval: a channel goes at most 1.5 intervals without a record */
    uint64_t period = VDB_MAX(db->opts.tick_interval_ms / 2, 5);
    pthread_mutex_lock(&db->ticker_mu);
    while (!db->ticker_stop) {
        pthread_mutex_unlock(&db->ticker_mu);
        tick_all(db);
        pthread_mutex_lock(&db->ticker_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + period * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        if (!db->ticker_stop)
            pthread_cond_timedwait(&db->ticker_cv, &db->ticker_mu, &until);
    }
    pthread_mutex_unlock(&db->ticker_mu);
    return NULL;
}

vdb_status vdb_ticker_start(vdb_db *db)
{
    if (pthread_create(&db->ticker, NULL, ticker, db) != 0)
        return vdb_set_errmsg(VDB_EIO, "could not start the time-tick thread");
    db->ticker_started = true;
    return VDB_OK;
}

void vdb_ticker_stop(vdb_db *db)
{
    if (!db->ticker_started)
        return;
    pthread_mutex_lock(&db->ticker_mu);
    db->ticker_stop = true;
    pthread_cond_signal(&db->ticker_cv);
    pthread_mutex_unlock(&db->ticker_mu);
    pthread_join(db->ticker, NULL);
    db->ticker_started = false;
}

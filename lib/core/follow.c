/* Reader processes (vdb_options.read_only). A reader takes no lock and writes nothing; it
 * answers from a state loaded the way vdb_open recovers one (collections and segments from
 * the meta store, the log replayed from each shard's checkpoint), only read-only: the meta
 * store a snapshot of the writer's acknowledged records (meta_local.c), the log read below
 * each channel's commit marker (the WAL: the only log a reader follows yet), a write split over
 * shards applied only when every part is there (a write in progress is left for the next
 * load: never seen in part), no index built or saved, no ABORT record appended.
 *
 * The follower thread looks every read_only_refresh_ms at the writer's meta store position
 * and each channel's last position. When only channels moved, their new records are applied
 * to the state that answers, all of a collection's at once under its lock (a write whole in
 * every channel only, as at a load). When the meta store moved it loads a new state into a scratch
 * handle that shares the log and object stores, checks that the meta store did not move
 * while it loaded (a seal commits its meta transaction before it truncates the log, and a
 * compaction before it removes files, so an unmoved meta store means the log and the files
 * read were the ones it names), and swaps the catalog in under the catalog's write lock. A
 * load that fails (files removed under it by the writer's compaction, a writer that crashed
 * mid-way) leaves the old state answering and is tried again. Every call holds the catalog
 * lock for reading while it runs, so the old state is freed only when no call is in it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/databases.h"
#include "core/follow.h"
#include "core/recovery.h"

vdb_status vdb_read_now(vdb_db *db, uint64_t *ts)
{
    if (!db->read_only)
        return vdb_tso_next(db->tso, ts);
    uint64_t loaded = __atomic_load_n(&db->follow_ts, __ATOMIC_ACQUIRE);
    *ts = VDB_MAX(vdb_ts_make(vdb_now_ms(), VDB_TS_LOGICAL_MASK), loaded + 1);
    return VDB_OK;
}

static vdb_status meta_open_ro(const vdb_db *db, vdb_meta_store *out, uint64_t *gen,
                               uint64_t *seq)
{
    vdb_backend_options bo = {.timeout_ms = 10000, .read_only = 1};
    char *uri = db->opts.meta_uri ? vdb_strdup(db->opts.meta_uri)
                                  : vdb_path_join(db->path, "meta");
    if (uri && !db->opts.meta_uri) { /* local://<path>/meta */
        size_t n = strlen(uri) + 9;
        char *u = vdb_malloc(n);
        if (u)
            snprintf(u, n, "local://%s", uri);
        vdb_free(uri);
        uri = u;
    }
    if (!uri)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_status st = vdb_meta_store_open(uri, &bo, out);
    vdb_free(uri);
    if (st == VDB_OK)
        vdb_meta_local_position(out->h, gen, seq);
    return st;
}

/* Whether a channel moved past what the loaded state applied (records, ticks, aborts). */
static bool log_moved(vdb_db *db)
{
    bool moved = false;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    for (size_t i = 0; i < db->catalog.n && !moved; i++) {
        const vdb_collection *c = db->catalog.colls[i];
        for (uint32_t s = 0; s < c->nshards && !moved; s++) {
            const vdb_shard *sh = &c->shards[s];
            uint64_t last = 0;
            if (vdb_log_store_last_pos(&db->log, sh->channel, &last) != VDB_OK) {
                vdb_err_clear();
                continue;
            }
            moved = last > VDB_MAX(VDB_MAX(sh->last_pos, sh->tick_pos),
                                   VDB_MAX(sh->ckpt_pos, sh->seen_pos));
        }
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return moved;
}

static vdb_db *scratch_new(vdb_db *db, vdb_meta_store meta)
{
    vdb_db *x = vdb_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->path = db->path;
    x->opts = db->opts;
    x->lock_fd = -1;
    x->log = db->log;
    x->meta = meta;
    x->obj = db->obj;
    x->read_only = true;
    x->next_id = x->id_limit = UINT64_C(1) << 62; /* growing segments' ids: the reader's own */
    x->builds = db->builds;
    x->seals = db->seals;
    x->search = db->search;
    x->build_threads = db->build_threads;
    pthread_mutex_init(&x->id_mu, NULL);
    pthread_mutex_init(&x->pin_mu, NULL);
    vdb_catalog_init(&x->catalog);
    pthread_mutex_init(&x->progress_mu, NULL);
    pthread_mutex_init(&x->idx_mu, NULL);
    pthread_cond_init(&x->idx_cv, NULL);
    pthread_mutex_init(&x->hold_mu, NULL);
    return x;
}

/* Frees the scratch handle: its catalog (the state it held) and its meta store, if kept. */
static void scratch_free(vdb_db *x)
{
    vdb_catalog_destroy(&x->catalog);
    vdb_meta_store_close(&x->meta);
    pthread_mutex_destroy(&x->id_mu);
    pthread_mutex_destroy(&x->pin_mu);
    pthread_mutex_destroy(&x->progress_mu);
    pthread_mutex_destroy(&x->idx_mu);
    pthread_cond_destroy(&x->idx_cv);
    pthread_mutex_destroy(&x->hold_mu);
    vdb_free(x->pins);
    vdb_free(x);
}

/* The positions each channel had just before the load read it are kept as seen_pos, so
 * that log_moved does not load again for records a load skipped (a write in progress). */
static void note_seen(vdb_db *x)
{
    uint64_t newest = 0;
    for (size_t i = 0; i < x->catalog.n; i++) {
        vdb_collection *c = x->catalog.colls[i];
        for (uint32_t s = 0; s < c->nshards; s++) {
            vdb_shard *sh = &c->shards[s];
            newest = VDB_MAX(newest, VDB_MAX(VDB_MAX(sh->last_ts, sh->tick_ts), sh->ckpt_ts));
        }
    }
    __atomic_store_n(&x->follow_ts, newest, __ATOMIC_RELEASE);
}

/* Only the log moved: its new records applied to the state that answers, collection by
 * collection (recovery.c's vdb_replay_tail), instead of loading everything again. A failure
 * (the log truncated under the read by a seal, which moved the meta store) leaves it to a
 * whole load. */
static vdb_status follow_tail(vdb_db *db)
{
    vdb_status st = VDB_OK;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++) {
        vdb_collection *c = db->catalog.colls[i];
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        st = vdb_replay_tail(db, c);
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    if (st == VDB_OK)
        note_seen(db);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

/* One load; *changed: a new state was swapped in. force: load even if nothing moved.
 * VDB_ECONFLICT: the writer moved under it (try again). Under follow_mu. */
static vdb_status load_once(vdb_db *db, bool force, bool *changed)
{
    *changed = false;
    vdb_meta_store meta = {0};
    uint64_t gen, seq;
    vdb_status st = meta_open_ro(db, &meta, &gen, &seq);
    if (st != VDB_OK)
        return st;
    if (!force && gen == db->follow_gen && seq == db->follow_seq) {
        if (!log_moved(db)) {
            vdb_meta_store_close(&meta);
            return VDB_OK;
        }
        if (follow_tail(db) == VDB_OK) {
            vdb_meta_store_close(&meta);
            __atomic_add_fetch(&db->follow_tails, 1, __ATOMIC_RELAXED);
            *changed = true;
            return VDB_OK;
        }
        vdb_err_clear(); /* a whole load follows */
    }
    vdb_db *x = scratch_new(db, meta);
    if (!x) {
        vdb_meta_store_close(&meta);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    st = vdb_recover(x);
    if (st == VDB_OK)
        st = vdb_load_databases(x);
    if (st == VDB_OK) { /* the meta store must not have moved meanwhile */
        vdb_meta_store again = {0};
        uint64_t g2, s2;
        st = meta_open_ro(db, &again, &g2, &s2);
        if (st == VDB_OK && (g2 != gen || s2 != seq))
            st = vdb_set_errmsg(VDB_ECONFLICT, "database %s: the writer committed while the "
                                "reader loaded", db->path);
        vdb_meta_store_close(&again);
    } else if (st != VDB_ENOMEM) {
        /* files removed or cut under the load by the writer: the next try sees their
         * successors, or the same failure if it is real (returned then) */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", vdb_err_get());
        vdb_meta_store again = {0};
        uint64_t g2, s2;
        if (meta_open_ro(db, &again, &g2, &s2) == VDB_OK && (g2 != gen || s2 != seq))
            st = VDB_ECONFLICT;
        vdb_meta_store_close(&again);
        vdb_set_errmsg(st, "%s", msg);
    }
    if (st != VDB_OK) {
        scratch_free(x);
        return st;
    }
    note_seen(x);
    /* the swap: no call is inside the catalog while its write lock is held */
    vdb_lock_wr(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_catalog old = db->catalog;
    db->catalog.n = x->catalog.n;
    db->catalog.cap = x->catalog.cap;
    db->catalog.colls = x->catalog.colls;
    db->catalog.naliases = x->catalog.naliases;
    db->catalog.aliases_cap = x->catalog.aliases_cap;
    db->catalog.aliases = x->catalog.aliases;
    db->catalog.ndbs = x->catalog.ndbs;
    db->catalog.dbs_cap = x->catalog.dbs_cap;
    db->catalog.dbs = x->catalog.dbs;
    vdb_meta_store old_meta = db->meta;
    db->meta = x->meta;
    db->follow_gen = gen;
    db->follow_seq = seq;
    __atomic_store_n(&db->follow_ts, x->follow_ts, __ATOMIC_RELEASE);
    pthread_mutex_lock(&db->id_mu); /* a tail's growing segments take ids after the load's */
    db->next_id = VDB_MAX(db->next_id, x->next_id);
    pthread_mutex_unlock(&db->id_mu);
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    /* the scratch handle takes the old state (the lock it destroys is its own) */
    x->catalog.n = old.n;
    x->catalog.cap = old.cap;
    x->catalog.colls = old.colls;
    x->catalog.naliases = old.naliases;
    x->catalog.aliases_cap = old.aliases_cap;
    x->catalog.aliases = old.aliases;
    x->catalog.ndbs = old.ndbs;
    x->catalog.dbs_cap = old.dbs_cap;
    x->catalog.dbs = old.dbs;
    x->meta = old_meta;
    scratch_free(x);
    __atomic_add_fetch(&db->follow_loads, 1, __ATOMIC_RELAXED);
    *changed = true;
    return VDB_OK;
}

/* Loads until a load succeeds or is not needed, for up to timeout_ms. */
static vdb_status load(vdb_db *db, bool force, uint64_t timeout_ms)
{
    uint64_t start = vdb_now_ms();
    pthread_mutex_lock(&db->follow_mu);
    vdb_status st;
    for (int tries = 0;; tries++) {
        bool changed;
        st = load_once(db, force, &changed);
        if (st != VDB_ECONFLICT && (st == VDB_OK || tries >= 2))
            break;
        if (vdb_now_ms() - start >= timeout_ms) {
            st = vdb_set_errmsg(VDB_ETIMEDOUT, "database %s: the reader could not load the "
                                "writer's state within %llu ms: %s", db->path,
                                (unsigned long long)timeout_ms, vdb_err_get());
            break;
        }
        struct timespec ms = {0, 5000000};
        nanosleep(&ms, NULL);
    }
    pthread_mutex_unlock(&db->follow_mu);
    return st;
}

vdb_status vdb_follow_catch_up(vdb_db *db)
{
    return load(db, false, db->opts.read_only_strong_timeout_ms);
}

vdb_status vdb_follow_before_read(vdb_db *db, const vdb_read_opts *r)
{
    if (!db->read_only || (r && r->travel_ts) ||
        (r ? r->consistency : VDB_CONSISTENCY_STRONG) != VDB_CONSISTENCY_STRONG)
        return VDB_OK;
    return vdb_follow_catch_up(db);
}

static void *follower(void *arg)
{
    vdb_db *db = arg;
    uint64_t period = db->opts.read_only_refresh_ms;
    pthread_mutex_lock(&db->follow_wait_mu);
    while (!db->follow_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = until.tv_nsec + period * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&db->follow_cv, &db->follow_wait_mu, &until);
        if (db->follow_stop)
            break;
        pthread_mutex_unlock(&db->follow_wait_mu);
        /* a failure keeps the old state answering; the next period tries again */
        if (load(db, false, period) != VDB_OK)
            vdb_err_clear();
        pthread_mutex_lock(&db->follow_wait_mu);
    }
    pthread_mutex_unlock(&db->follow_wait_mu);
    return NULL;
}

vdb_status vdb_follow_start(vdb_db *db)
{
    pthread_mutex_init(&db->follow_mu, NULL);
    pthread_mutex_init(&db->follow_wait_mu, NULL);
    pthread_cond_init(&db->follow_cv, NULL);
    db->read_only = true;
    vdb_status st = load(db, true, db->opts.read_only_strong_timeout_ms);
    if (st == VDB_OK) {
        if (pthread_create(&db->follower, NULL, follower, db) != 0)
            st = vdb_set_errmsg(VDB_EIO, "could not start the reader's follower thread");
        else
            db->follow_started = true;
    }
    return st;
}

void vdb_follow_stop(vdb_db *db)
{
    if (!db->read_only)
        return;
    if (db->follow_started) {
        pthread_mutex_lock(&db->follow_wait_mu);
        db->follow_stop = true;
        pthread_cond_signal(&db->follow_cv);
        pthread_mutex_unlock(&db->follow_wait_mu);
        pthread_join(db->follower, NULL);
        db->follow_started = false;
    }
    pthread_mutex_destroy(&db->follow_mu);
    pthread_mutex_destroy(&db->follow_wait_mu);
    pthread_cond_destroy(&db->follow_cv);
}

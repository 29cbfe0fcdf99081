/* Sealing a shard, in steps so that neither readers nor writers wait for its I/O:
 *   1. rotate (write_mu, then the collection lock for a moment): the shard's growing segments
 *      move to its sealing list, where searches still see them and deletes still reach them,
 *      and new rows go to fresh growing segments; every record up to the log position reached
 *      is now in a sealing or sealed segment. The writer that crosses a threshold does this
 *      (it is a few pointer moves) and queues the rest on the database's seal pool;
 *   2. write (no lock): each rotated segment's column files, bloom filter and delete log;
 *   3. commit (write_mu, not the collection lock): the delete logs the shard's sealed
 *      segments gained, then one meta transaction with every manifest and the checkpoint;
 *   4. swap (the collection lock for a moment): the rotated segments become sealed.
 * Then the log before the checkpoint is truncated. A failure before the commit changes
 * nothing durable (the rotated segments stay in the sealing list and the next seal takes
 * them again); a commit whose outcome is unknown leaves the collection refusing writes until
 * it is reopened. Deletes that reach a rotated segment after its delete log was written are
 * persisted by the next seal (and replayed from the log, which keeps them, after a crash).
 * vdb_flush rotates and seals in the caller's thread. */
#include <stdio.h>

#include "core/events.h"
#include "core/follow.h"
#include "core/metatxn.h"
#include "core/mmap.h"
#include "core/seal.h"
#include "core/segment_index.h"
#include "core/tick.h"

/* What one seal holds between its steps. */
typedef struct seal_run {
    size_t n;
    vdb_segment **segs;       /* rotated segments, one reference each */
    vdb_seal_pending *pend;   /* their files, once written */
    vdb_buf *manifests;
    uint64_t ckpt_pos, ckpt_ts;
} seal_run;

static void run_free(seal_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->pend)
            vdb_seal_pending_free(&r->pend[i]);
        if (r->manifests)
            vdb_buf_free(&r->manifests[i]);
        vdb_segment_free(r->segs[i]);
    }
    vdb_free(r->segs);
    vdb_free(r->pend);
    vdb_free(r->manifests);
    *r = (seal_run){0};
}

/* Rotation (write_mu held): the non-empty growing segments join the sealing list. */
static void rotate(vdb_collection *c, vdb_shard *sh)
{
    vdb_lock_wr(&c->lock, VDB_RANK_COLL);
    for (size_t g = 0; g < sh->ngrowing; g++) {
        vdb_segment *s = sh->growing[g];
        if (s && vdb_segment_rows(s) > 0 && vdb_shard_add_sealing(sh, s) == VDB_OK)
            sh->growing[g] = NULL; /* on ENOMEM it stays growing: the next seal takes it */
    }
    bool all = true;
    for (size_t g = 0; g < sh->ngrowing; g++)
        all = all && (!sh->growing[g] || vdb_segment_rows(sh->growing[g]) == 0);
    if (all) {
        sh->rotated_pos = sh->last_pos;
        sh->rotated_ts = sh->last_ts;
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
}

/* Step 1 of a seal, write_mu held: the run takes a reference to every segment in the
 * sealing list and the checkpoint they reach. */
static vdb_status take_sealing(vdb_collection *c, vdb_shard *sh, seal_run *r)
{
    size_t n = sh->nsealing;
    r->segs = vdb_calloc(n + 1, sizeof *r->segs);
    r->pend = vdb_calloc(n + 1, sizeof *r->pend);
    r->manifests = vdb_calloc(n + 1, sizeof *r->manifests);
    if (!r->segs || !r->pend || !r->manifests)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    vdb_lock_rd(&c->lock, VDB_RANK_COLL);
    for (size_t i = 0; i < n; i++) {
        vdb_segment_ref(sh->sealing[i]);
        r->segs[r->n++] = sh->sealing[i];
    }
    vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
    r->ckpt_pos = sh->rotated_pos;
    r->ckpt_ts = sh->rotated_ts;
    return VDB_OK;
}

/* Step 2, no lock held: the files of every rotated segment. Their rows no longer change;
 * their deletes may, so those are copied under the read lock first. */
static vdb_status write_files(vdb_db *db, vdb_collection *c, seal_run *r)
{
    vdb_status st = VDB_OK;
    for (size_t i = 0; i < r->n && st == VDB_OK; i++) {
        vdb_buf dels = {0};
        size_t ndels;
        vdb_lock_rd(&c->lock, VDB_RANK_COLL);
        st = vdb_segment_deletes_snapshot(r->segs[i], &dels, &ndels);
        vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
        if (st == VDB_OK)
            st = vdb_segment_seal_write(r->segs[i], db->obj.be, db->obj.h, c->seg_prefix, &dels,
                                        ndels, &r->manifests[i], &r->pend[i]);
        /* options.mmap: its vector and sparse columns go to the cache now (local I/O, no
         * lock), and are read in place from the swap on */
        if (st == VDB_OK && vdb_collection_cache(db, c))
            vdb_segment_seal_map(r->segs[i], vdb_collection_cache(db, c), &r->pend[i]);
        vdb_buf_free(&dels);
    }
    return st;
}

/* Step 3, write_mu held: the shard's new delete logs and the one meta transaction. *unknown
 * is set when the transaction failed in a way that may have applied it. */
static vdb_status commit(vdb_db *db, vdb_collection *c, uint32_t shard, seal_run *r,
                         vdb_delta_pending *dpend, vdb_segment **dsegs, size_t *nd,
                         bool *wrote, bool *unknown)
{
    vdb_shard *sh = &c->shards[shard];
    vdb_metatxn t = {0};
    char key[128];
    vdb_status st = VDB_OK;
    /* write_mu keeps delete writers and compaction away from c->sealed */
    for (size_t i = 0; i < c->nsealed && st == VDB_OK; i++) {
        vdb_segment *s = c->sealed[i];
        vdb_segment_info info;
        vdb_segment_get_info(s, &info);
        if (info.shard != shard || info.deletes == info.persisted_deletes)
            continue;
        vdb_buf m = {0};
        st = vdb_segment_deletes_write(s, db->obj.be, db->obj.h, c->seg_prefix, &m, &dpend[*nd]);
        if (st == VDB_OK && dpend[*nd].deltas) {
            vdb_meta_key(key, sizeof key, "seg", c->id, info.id);
            vdb_metatxn_add(&t, VDB_META_PUT, key, &m);
            dsegs[(*nd)++] = s;
        }
        vdb_buf_free(&m);
    }
    for (size_t i = 0; i < r->n && st == VDB_OK; i++) {
        bool present = false; /* a dropped partition took it out of the list */
        for (size_t k = 0; k < sh->nsealing && !present; k++)
            present = sh->sealing[k] == r->segs[i];
        if (!present)
            continue;
        vdb_meta_key(key, sizeof key, "seg", c->id, vdb_segment_id(r->segs[i]));
        vdb_metatxn_add(&t, VDB_META_PUT, key, &r->manifests[i]);
    }
    if (st == VDB_OK && t.n > 0) {
        vdb_buf ck = {0};
        vdb_buf_u64(&ck, r->ckpt_pos);
        vdb_buf_u64(&ck, r->ckpt_ts);
        vdb_meta_key(key, sizeof key, "ckpt", c->id, shard);
        vdb_metatxn_add(&t, VDB_META_PUT, key, &ck);
        vdb_buf_free(&ck);
        st = vdb_metatxn_commit(db, &t);
        *wrote = st == VDB_OK;
        /* a conflict applied nothing; any other failure may or may not have */
        *unknown = st != VDB_OK && st != VDB_ECONFLICT && st != VDB_ENOMEM;
    }
    vdb_metatxn_free(&t);
    return st;
}

static vdb_status seal(vdb_db *db, vdb_collection *c, uint32_t shard, bool rotate_first)
{
    vdb_shard *sh = &c->shards[shard];
    seal_run r = {0};
    vdb_delta_pending *dpend = NULL;
    vdb_segment **dsegs = NULL;
    size_t nd = 0, ngone = 0;
    uint64_t *gone = NULL; /* ids of rotated segments whose files are garbage */
    bool unknown = false, committed = false, wrote = false;
    vdb_lock_mu(&sh->seal_mu, VDB_RANK_SEAL);
    vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (!rotate_first)
        sh->seal_queued = false;
    vdb_status st = c->dropped ? VDB_OK : vdb_collection_check_writable(c);
    if (st == VDB_OK && !c->dropped) {
        if (rotate_first)
            rotate(c, sh);
        st = take_sealing(c, sh, &r);
    }
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    if (st == VDB_OK)
        st = write_files(db, c, &r);
    if (st == VDB_OK) {
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        if (!c->dropped) {
            dpend = vdb_calloc(c->nsealed + 1, sizeof *dpend);
            dsegs = vdb_calloc(c->nsealed + 1, sizeof *dsegs);
            st = dpend && dsegs ? commit(db, c, shard, &r, dpend, dsegs, &nd, &wrote, &unknown)
                                : vdb_set_errmsg(VDB_ENOMEM, "out of memory");
        }
        gone = vdb_calloc(r.n + 1, sizeof *gone);
        committed = st == VDB_OK && !c->dropped;
        if (unknown)
            c->failed = true; /* only a reopen can tell what the meta store holds */
        if (committed) {
            size_t first_new = c->nsealed;
            vdb_lock_wr(&c->lock, VDB_RANK_COLL);
            for (size_t i = 0; i < nd; i++)
                vdb_segment_deletes_finish(dsegs[i], &dpend[i]);
            for (size_t i = 0; i < r.n; i++) {
                if (!vdb_shard_take_sealing(sh, r.segs[i])) {
                    if (gone) /* its partition was dropped meanwhile */
                        gone[ngone++] = vdb_segment_id(r.segs[i]);
                    continue;
                }
                vdb_segment_seal_finish(r.segs[i], &r.pend[i]);
                /* the list's reference moves to c->sealed; room was made in rotate's
                 * absence of it, so a failure here is only memory */
                if (vdb_collection_add_sealed(c, r.segs[i]) != VDB_OK) {
                    vdb_segment_free(r.segs[i]);
                    c->failed = true;
                }
            }
            vdb_unlock_rw(&c->lock, VDB_RANK_COLL);
            if (wrote) {
                sh->ckpt_pos = r.ckpt_pos;
                sh->ckpt_ts = r.ckpt_ts;
            }
            /* scalar indexes now, vector indexes in the background; a failed build only means
             * the segment is scanned. write_mu keeps c->sealed from changing meanwhile. */
            for (size_t i = first_new; i < c->nsealed; i++) {
                vdb_index_segment(db, c, c->sealed[i], &c->lock, false);
                vdb_index_queue(db, c, c->sealed[i]);
            }
        }
        if (c->dropped)
            for (size_t i = 0; gone && i < r.n; i++)
                gone[ngone++] = vdb_segment_id(r.segs[i]);
    } else {
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    /* what vdb_wait_for_seals reports: the last outcome of this shard's seals */
    vdb_free(sh->seal_fail_msg);
    sh->seal_fail_msg = st == VDB_OK ? NULL : vdb_strdup(vdb_err_get());
    sh->seal_fail = st;
    vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    vdb_events_notify(db); /* waiters for seals share the index builds' wake-up */
    /* the files of segments whose partition (or collection) went while they were written are
     * garbage: nothing names them */
    for (size_t i = 0; i < ngone; i++)
        vdb_segment_objects_delete(db, c, gone[i]);
    vdb_free(gone);
    if (wrote && r.n)
        vdb_log_trim(db, c, shard, r.ckpt_pos + 1); /* held back by change streams */
    for (size_t i = 0; dpend && i < nd; i++)
        vdb_delta_pending_free(&dpend[i]);
    vdb_free(dpend);
    vdb_free(dsegs);
    run_free(&r);
    vdb_unlock_mu(&sh->seal_mu, VDB_RANK_SEAL);
    return st;
}

vdb_status vdb_seal_shard(vdb_db *db, vdb_collection *c, uint32_t shard)
{
    return seal(db, c, shard, true);
}

/* ---- background seals ---- */

typedef struct seal_job {
    vdb_job job;
    vdb_db *db;
    vdb_collection *c; /* alive while the job runs: a drop cancels and waits for its jobs */
    uint32_t shard;
} seal_job;

static void seal_run_job(vdb_job *job)
{
    seal_job *j = (seal_job *)job;
    /* a failure loses nothing: the rows stay in the log and the sealing list, and the next
     * threshold or vdb_flush seals again; vdb_wait_for_seals reports it meanwhile */
    seal(j->db, j->c, j->shard, false);
}

static void seal_release(vdb_job *job, bool ran)
{
    seal_job *j = (seal_job *)job;
    if (!ran) { /* cancelled by a drop or close: nothing queued any more */
        vdb_lock_mu(&j->c->write_mu, VDB_RANK_WRITE);
        j->c->shards[j->shard].seal_queued = false;
        vdb_unlock_mu(&j->c->write_mu, VDB_RANK_WRITE);
    }
    vdb_free(j);
}

/* Rotates shard's growing segments and queues their seal (write_mu held). */
static void rotate_and_queue(vdb_db *db, vdb_collection *c, uint32_t shard)
{
    vdb_shard *sh = &c->shards[shard];
    rotate(c, sh); /* the caller's whole share: new rows go to fresh segments */
    if (sh->seal_queued)
        return; /* the queued seal takes every rotated segment */
    seal_job *j = vdb_calloc(1, sizeof *j);
    if (!j)
        return; /* the next write tries again */
    *j = (seal_job){.job = {seal_run_job, seal_release, c, NULL}, .db = db, .c = c,
                    .shard = shard};
    sh->seal_queued = true;
    vdb_pool_submit(db->seals, &j->job);
}

void vdb_seal_if_full(vdb_db *db, vdb_collection *c, uint32_t shard)
{
    vdb_shard *sh = &c->shards[shard];
    bool full = false;
    for (size_t g = 0; g < sh->ngrowing && !full; g++)
        if (sh->growing[g])
            full = vdb_segment_rows(sh->growing[g]) >= db->opts.segment_max_rows ||
                   vdb_segment_memory(sh->growing[g]) >= db->opts.segment_max_bytes;
    if (full)
        rotate_and_queue(db, c, shard);
}

void vdb_seal_idle(vdb_db *db, uint64_t now_ms)
{
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    for (size_t i = 0; i < db->catalog.n; i++) {
        vdb_collection *c = db->catalog.colls[i];
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        for (uint32_t s = 0; s < c->nshards && !c->dropped && !c->failed; s++) {
            vdb_shard *sh = &c->shards[s];
            bool rows = false;
            for (size_t g = 0; g < sh->ngrowing && !rows; g++)
                rows = sh->growing[g] && vdb_segment_rows(sh->growing[g]) > 0;
            if (rows && now_ms - sh->last_write_ms >= db->opts.segment_idle_seal_ms)
                rotate_and_queue(db, c, s);
        }
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
}

/* ---- vdb_flush ---- */

static vdb_status flush_collection(vdb_db *db, vdb_collection *c)
{
    vdb_status st = VDB_OK;
    for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++)
        st = vdb_seal_shard(db, c, s);
    return st;
}

vdb_status vdb_flush(vdb_db *db, const char *collection)
{
    vdb_err_clear();
    if (db && db->read_only)
        return vdb_refuse_read_only(db, "vdb_flush");
    VDB_CHECK_ARG(db, "vdb_flush: db is NULL");
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_status st = VDB_OK;
    if (collection) {
        vdb_collection *c;
        st = vdb_catalog_lookup(&db->catalog, collection, &c);
        if (st == VDB_OK)
            st = flush_collection(db, c);
    } else {
        for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++)
            st = flush_collection(db, db->catalog.colls[i]);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

/* ---- waiting for background seals ---- */

typedef struct seal_look {
    vdb_db *db;
    const char *collection;
} seal_look;

/* VDB_OK when no seal of the collection is queued or unfinished, VDB_ETIMEDOUT while one is,
 * or the last failure of one that is stuck. */
static vdb_status look_seals(void *arg)
{
    seal_look *l = arg;
    vdb_db *db = l->db;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    vdb_collection *c;
    vdb_status st = vdb_catalog_lookup(&db->catalog, l->collection, &c);
    if (st == VDB_OK) {
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        size_t pending = 0;
        for (uint32_t s = 0; s < c->nshards && st == VDB_OK; s++) {
            const vdb_shard *sh = &c->shards[s];
            if (sh->nsealing && !sh->seal_queued && sh->seal_fail != VDB_OK)
                st = vdb_set_errmsg(sh->seal_fail, "sealing shard %u of '%s' failed: %s", s,
                                    c->name, sh->seal_fail_msg ? sh->seal_fail_msg : "");
            pending += sh->nsealing + sh->seal_queued;
        }
        if (st == VDB_OK && pending)
            st = vdb_set_errmsg(VDB_ETIMEDOUT, "'%s' still has %zu segment%s to seal",
                                c->name, pending, pending == 1 ? "" : "s");
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    return st;
}

vdb_status vdb_wait_for_seals(vdb_db *db, const char *collection, uint64_t timeout_ms)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db && collection, "vdb_wait_for_seals: db or collection is NULL");
    seal_look l = {db, collection};
    return vdb_events_wait(db, timeout_ms, look_seals, &l);
}

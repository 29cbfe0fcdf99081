/* vdb_check: an integrity check of an open database, as SQLite's PRAGMA integrity_check. It
 * reads every sealed segment file against its manifest, decodes every saved vector index,
 * reads every record the log still holds, checks each channel's end against its bounds in
 * the meta store, and reports each problem found. */
#include <stdio.h>

#include "core/recovery.h"
#include "core/segment_index.h"

typedef struct checker {
    vdb_check_fn fn;
    void *arg;
    uint64_t problems;
    vdb_status first;
    char first_msg[1024];
} checker;

/* One problem: its status, and the thread's message naming it. */
static void report(void *arg, vdb_status st)
{
    checker *k = arg;
    const char *msg = vdb_err_get();
    if (k->problems++ == 0) {
        k->first = st;
        snprintf(k->first_msg, sizeof k->first_msg, "%s", msg);
    }
    if (k->fn)
        k->fn(k->arg, st, msg);
}

typedef struct seg_walk {
    vdb_db *db;
    checker *k;
} seg_walk;

static int verify_segment(void *arg, const char *key, const void *val, size_t len)
{
    (void)key;
    seg_walk *w = arg;
    vdb_segment_verify(val, len, w->db->obj.be, w->db->obj.h, report, w->k);
    return 0;
}

static int skip_record(void *arg, uint64_t pos, const void *rec, size_t len)
{
    (void)arg;
    (void)pos;
    (void)rec;
    (void)len;
    return 0;
}

/* Every record still in the channel, read and checked by the log backend. */
static void check_channel(vdb_db *db, const char *channel, checker *k)
{
    vdb_status st = db->log.be->read(db->log.h, channel, 0, skip_record, NULL);
    if (st != VDB_OK)
        report(k, st);
}

static vdb_status check_collection(vdb_db *db, vdb_collection *c, checker *k)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "seg/%016llx/", (unsigned long long)c->id);
    seg_walk w = {db, k};
    vdb_status st = db->meta.be->scan(db->meta.h, prefix, verify_segment, &w);
    if (st != VDB_OK)
        return st; /* the meta store could not be read: the check cannot go on */
    vdb_index_verify(db, c, report, k);
    for (uint32_t s = 0; s < c->nshards; s++) {
        check_channel(db, c->shards[s].channel, k);
        if ((st = vdb_check_channel_end(db, c, s)) != VDB_OK)
            report(k, st);
    }
    return VDB_OK;
}

vdb_status vdb_check(vdb_db *db, vdb_check_fn fn, void *arg, uint64_t *problems)
{
    vdb_err_clear();
    VDB_CHECK_ARG(db, "vdb_check: db is NULL");
    checker k = {.fn = fn, .arg = arg};
    vdb_status st = VDB_OK;
    vdb_lock_rd(&db->catalog.lock, VDB_RANK_CATALOG);
    /* Each collection under its write_mu: no seal, compaction or write changes its manifests
     * or removes a file while they are read. */
    for (size_t i = 0; i < db->catalog.n && st == VDB_OK; i++) {
        vdb_collection *c = db->catalog.colls[i];
        vdb_lock_mu(&c->write_mu, VDB_RANK_WRITE);
        st = check_collection(db, c, &k);
        vdb_unlock_mu(&c->write_mu, VDB_RANK_WRITE);
    }
    vdb_unlock_rw(&db->catalog.lock, VDB_RANK_CATALOG);
    if (st == VDB_OK)
        check_channel(db, "ddl", &k);
    if (problems)
        *problems = k.problems;
    if (st != VDB_OK)
        return st;
    if (k.problems)
        return vdb_set_errmsg(k.first, "vdb_check: %llu problem%s; the first: %s",
                              (unsigned long long)k.problems, k.problems == 1 ? "" : "s",
                              k.first_msg);
    return VDB_OK;
}

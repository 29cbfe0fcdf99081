/* What every read shares: the timestamp it reads at (travel timestamp or consistency level),
 * and the segments of the partitions it covers. */
#include "core/follow.h"
#include "core/ids.h"
#include "core/partkey.h"
#include "core/readpath.h"

/* The timestamp a read sees, from its travel timestamp or consistency level. */
vdb_status vdb_read_ts(vdb_db *db, const vdb_read_opts *r, uint64_t *T)
{
    if (r && r->travel_ts) {
        uint64_t horizon = vdb_horizon(db);
        if (r->travel_ts < horizon)
            return vdb_set_errmsg(VDB_ERANGE, "travel timestamp %llu is older than the "
                                  "retention window (%llu s)",
                                  (unsigned long long)r->travel_ts,
                                  (unsigned long long)db->opts.retention_seconds);
        *T = r->travel_ts;
        return VDB_OK;
    }
    switch (r ? r->consistency : VDB_CONSISTENCY_STRONG) {
    case VDB_CONSISTENCY_STRONG: /* a reader caught up before it took the catalog's lock */
    case VDB_CONSISTENCY_SESSION: /* writes are applied before they return: now covers them */
        return vdb_read_now(db, T);
    case VDB_CONSISTENCY_BOUNDED: {
        uint64_t now = vdb_now_ms();
        *T = vdb_ts_make(now > r->staleness_ms ? now - r->staleness_ms : 0, 0);
        return VDB_OK;
    }
    case VDB_CONSISTENCY_EVENTUALLY:
        *T = UINT64_MAX;
        return VDB_OK;
    }
    return vdb_set_errmsg(VDB_EINVAL, "unknown consistency level %d", (int)r->consistency);
}

vdb_status vdb_read_pin(vdb_db *db, const vdb_read_opts *r, uint64_t *T)
{
    /* a fresh "now" can fall a millisecond behind a zero retention window: take it again */
    for (int tries = 0;; tries++) {
        vdb_status st = vdb_read_ts(db, r, T);
        if (st == VDB_OK && *T == UINT64_MAX) /* eventually: a snapshot needs a real time */
            st = vdb_read_now(db, T);
        if (st == VDB_OK)
            st = vdb_pin_ts(db, *T);
        if (st != VDB_ERANGE || (r && r->travel_ts) || tries == 3)
            return st;
    }
}

vdb_status vdb_pick_partitions(const vdb_collection *c, const vdb_read_opts *r, bool *want)
{
    if (!r || !r->partitions || r->n_partitions == 0) {
        for (size_t i = 0; i < c->nparts; i++)
            want[i] = true;
        return VDB_OK;
    }
    if (vdb_has_partition_key(c))
        return vdb_key_refuse_partitions(c);
    for (size_t i = 0; i < r->n_partitions; i++) {
        int slot = r->partitions[i] ? vdb_partition_by_name(c, r->partitions[i]) : -1;
        if (slot < 0)
            return vdb_set_errmsg(VDB_ENOTFOUND, "partition '%s' does not exist in '%s'",
                                  r->partitions[i] ? r->partitions[i] : "(null)", c->name);
        want[slot] = true;
    }
    return VDB_OK;
}

/* Segments of the wanted partitions (shard: only that one; UINT32_MAX: all). */
vdb_status vdb_pick_segments(const vdb_collection *c, const bool *want, uint32_t shard,
                             vdb_seg_set *out)
{
    size_t cap = c->nsealed;
    for (uint32_t s = 0; s < c->nshards; s++)
        cap += c->shards[s].ngrowing + c->shards[s].nsealing;
    out->segs = vdb_calloc(cap + 1, sizeof *out->segs);
    out->n = 0;
    if (!out->segs)
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    for (uint32_t s = 0; s < c->nshards; s++) {
        if (shard != UINT32_MAX && s != shard)
            continue;
        for (size_t g = 0; g < c->shards[s].ngrowing; g++)
            if (want[g] && c->shards[s].growing[g])
                out->segs[out->n++] = c->shards[s].growing[g];
        for (size_t g = 0; g < c->shards[s].nsealing; g++) { /* being sealed: still here */
            int slot = vdb_partition_slot(c, vdb_segment_partition(c->shards[s].sealing[g]));
            if (slot >= 0 && want[slot])
                out->segs[out->n++] = c->shards[s].sealing[g];
        }
    }
    for (size_t i = 0; i < c->nsealed; i++) {
        const vdb_segment *s = c->sealed[i];
        int slot = vdb_partition_slot(c, vdb_segment_partition(s));
        if (slot >= 0 && want[slot] && (shard == UINT32_MAX || vdb_segment_shard(s) == shard))
            out->segs[out->n++] = c->sealed[i];
    }
    return VDB_OK;
}

vdb_status vdb_read_opts_copy(const vdb_read_opts *in, vdb_read_opts *out)
{
    if (!in) { /* a zeroed struct reads like none: strong, every partition, no fields */
        *out = (vdb_read_opts){.struct_size = sizeof *out};
        return VDB_OK;
    }
    return vdb_struct_in(in, in->struct_size, sizeof *out, out, sizeof *out, "vdb_read_opts");
}

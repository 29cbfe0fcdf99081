/* Collection properties as values (kept in vdb_collection.props): editing a copy, checking
 * the keys and values, and the TTL's cut of what a read sees. The public calls that change
 * them are in properties.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/collection.h"
#include "tso/tso.h"

#define TTL_KEY "collection.ttl.seconds"
#define TTL_MAX_SECONDS (UINT64_C(1) << 32) /* ~136 years */
#define MMAP_KEY "mmap.enabled"

void vdb_props_free(vdb_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        vdb_free(p->keys[i]);
        vdb_free(p->vals[i]);
    }
    vdb_free(p->keys);
    vdb_free(p->vals);
    *p = (vdb_props){0};
}

static int props_find(const vdb_props *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], key))
            return (int)i;
    return -1;
}

vdb_status vdb_props_edit(const vdb_props *src, size_t n, const char *const *keys,
                          const char *const *vals, vdb_props *out)
{
    vdb_props p = {0};
    size_t cap = src->n + n;
    p.keys = vdb_calloc(cap ? cap : 1, sizeof *p.keys);
    p.vals = vdb_calloc(cap ? cap : 1, sizeof *p.vals);
    bool oom = !p.keys || !p.vals;
    for (size_t i = 0; i < src->n && !oom; i++, p.n++)
        oom = !(p.keys[i] = vdb_strdup(src->keys[i])) || !(p.vals[i] = vdb_strdup(src->vals[i]));
    for (size_t i = 0; i < n && !oom; i++) {
        int at = props_find(&p, keys[i]);
        if (!vals || !vals[i]) {
            if (at >= 0) { /* removed: the last one takes its place */
                vdb_free(p.keys[at]);
                vdb_free(p.vals[at]);
                p.n--;
                p.keys[at] = p.keys[p.n];
                p.vals[at] = p.vals[p.n];
            }
            continue;
        }
        char *v = vdb_strdup(vals[i]);
        if (!v) {
            oom = true;
        } else if (at >= 0) {
            vdb_free(p.vals[at]);
            p.vals[at] = v;
        } else if (!(p.keys[p.n] = vdb_strdup(keys[i]))) {
            vdb_free(v);
            oom = true;
        } else {
            p.vals[p.n++] = v;
        }
    }
    if (oom) {
        vdb_props_free(&p);
        return vdb_set_errmsg(VDB_ENOMEM, "out of memory");
    }
    *out = p;
    return VDB_OK;
}

vdb_status vdb_props_check(const vdb_props *p, uint64_t *ttl_ms)
{
    *ttl_ms = 0;
    for (size_t i = 0; i < p->n; i++) {
        const char *k = p->keys[i], *v = p->vals[i];
        if (!strcmp(k, TTL_KEY)) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *v < '0' || *v > '9' || *end || errno || s > TTL_MAX_SECONDS)
                return vdb_set_errmsg(VDB_EINVAL, "collection property '%s': '%s' is not a "
                                      "whole number of seconds in 0..%llu", k, v,
                                      (unsigned long long)TTL_MAX_SECONDS);
            *ttl_ms = (uint64_t)s * 1000;
        } else if (!strcmp(k, MMAP_KEY)) {
            if (strcasecmp(v, "true") && strcasecmp(v, "false"))
                return vdb_set_errmsg(VDB_EINVAL, "collection property '%s': '%s' is not "
                                      "true or false", k, v);
        } else {
            return vdb_set_errmsg(VDB_EUNSUPPORTED, "collection property '%s' is not "
                                  "supported (supported: %s, %s)", k, TTL_KEY, MMAP_KEY);
        }
    }
    return VDB_OK;
}

int vdb_props_mmap(const vdb_props *p)
{
    int at = props_find(p, MMAP_KEY);
    return at < 0 ? -1 : !strcasecmp(p->vals[at], "true");
}

void vdb_collection_take_props(vdb_collection *c, vdb_props *p, uint64_t ttl_ms)
{
    vdb_props_free(&c->props);
    c->props = *p;
    *p = (vdb_props){0};
    __atomic_store_n(&c->ttl_ms, ttl_ms, __ATOMIC_RELEASE);
}

/* The first timestamp a read at T still sees under c's TTL (0: every one). */
static uint64_t ttl_cut(const vdb_collection *c, uint64_t T)
{
    uint64_t ttl = __atomic_load_n(&c->ttl_ms, __ATOMIC_ACQUIRE);
    uint64_t phys = vdb_ts_physical(T);
    return ttl && phys > ttl ? vdb_ts_make(phys - ttl, 0) : 0;
}

bool vdb_collection_expired(const vdb_collection *c, uint64_t ts, uint64_t T)
{
    return ts < ttl_cut(c, T);
}

size_t vdb_collection_visible(const vdb_collection *c, const vdb_segment *s, uint64_t T,
                              uint64_t *bitset)
{
    size_t n = vdb_segment_visible(s, T, bitset);
    uint64_t cut = ttl_cut(c, T);
    if (!cut || !n)
        return n;
    const uint64_t *ts = vdb_segment_timestamps(s);
    size_t rows = vdb_segment_rows(s);
    for (size_t r = 0; r < rows; r++)
        if (ts[r] < cut && (bitset[r / 64] >> (r % 64) & 1)) {
            bitset[r / 64] &= ~(1ULL << (r % 64));
            n--;
        }
    return n;
}


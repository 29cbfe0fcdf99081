/* HNSW construction: levels from a fixed seed, then rows inserted in parallel under per-row locks. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hnsw_int.h"

/* Rows between two progress reports. */
#define PROGRESS_STEP 1024
#define MAX_THREADS 256

typedef struct build {
    vdb_hnsw *h;
    pthread_mutex_t *locks; /* one per row: guards its neighbour lists while linking */
    float *l0d;             /* n * M0: exact distance of each level-0 link, kept beside the
                             * list so re-selecting a full list needs no distances anew */
    pthread_mutex_t top_lock; /* guards entry / max_level */
    atomic_size_t next;     /* next row to insert */
    atomic_bool failed;
    pthread_mutex_t progress_lock;
    size_t done;
    void (*progress)(void *arg, size_t done, size_t total);
    void *arg;
} build;

static float row_scale(const vdb_hnsw *h, uint32_t r) { return h->inv_norm ? h->inv_norm[r] : 1; }

/* Distance between stored row a (as floats: hnsw_row) and stored row b. */
static float row_dist(const vdb_hnsw *h, const float *a_row, uint32_t a, uint32_t b)
{
    return hnsw_dist(h, a_row, row_scale(h, a), b);
}

/* splitmix64: levels must not depend on threads or insertion order. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void draw_levels(vdb_hnsw *h)
{
    uint64_t seed = 0x5eed4e5715ull;
    double ml = 1.0 / log((double)h->M);
    for (size_t i = 0; i < h->n; i++) {
        /* u in (0, 1]: 53 random bits, never zero */
        double u = (double)((next_rand(&seed) >> 11) + 1) * (1.0 / 9007199254740992.0);
        double l = floor(-log(u) * ml);
        h->level[i] = (uint8_t)(l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : l);
    }
}

/* Copies a row's list at a level under its lock (another thread may be rewriting it). */
static uint32_t copy_list(build *b, uint32_t r, int level, uint32_t *ids)
{
    pthread_mutex_lock(&b->locks[r]);
    const uint32_t *l = hnsw_list(b->h, r, level);
    uint32_t cnt = l[0];
    memcpy(ids, l + 1, cnt * sizeof *ids);
    pthread_mutex_unlock(&b->locks[r]);
    return cnt;
}

/* Beam search of one level from ep with beam ef; leaves the ef closest in c->res. */
static bool search_level(build *b, hnsw_ctx *c, uint32_t ep, float epd, uint32_t ef, int level)
{
    const vdb_hnsw *h = b->h;
    hnsw_ctx_begin(c, h->n);
    c->mark[ep] = c->epoch;
    if (!hnsw_heap_push(&c->res, epd, ep) || !hnsw_heap_push(&c->cand, -epd, ep))
        return false;
    while (c->cand.n) {
        hnsw_pair cur = c->cand.a[0];
        if (-cur.d > c->res.a[0].d && c->res.n >= ef)
            break;
        hnsw_heap_pop(&c->cand);
        if (c->cand.n)
            __builtin_prefetch(hnsw_list(h, c->cand.a[0].id, level), 0, 3);
        uint32_t cnt = copy_list(b, cur.id, level, c->ids), m = 0;
        /* first pass: keep the unvisited and start fetching their codes */
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t e = c->ids[i];
            if (c->mark[e] == c->epoch)
                continue;
            c->mark[e] = c->epoch;
            c->ids[m++] = e;
            __builtin_prefetch(hnsw_code(h, e), 0, 3);
            __builtin_prefetch(hnsw_code(h, e) + 64, 0, 3);
        }
        for (uint32_t i = 0; i < m; i++) {
            uint32_t e = c->ids[i];
            float d = hnsw_qdist(h, &c->pq, e);
            if (c->res.n < ef || d < c->res.a[0].d) {
                if (!hnsw_heap_push(&c->cand, -d, e) || !hnsw_heap_push(&c->res, d, e))
                    return false;
                if (c->res.n > ef)
                    hnsw_heap_pop(&c->res);
            }
        }
    }
    return true;
}

/* The paper's heuristic: walk candidates closest first and keep one only if it is closer to
 * the base than to every neighbour kept so far, so the links spread in different directions
 * instead of piling into one cluster. Compacts a[] to the kept ones; returns their count. */
static size_t select_neighbours(const vdb_hnsw *h, hnsw_ctx *c, hnsw_pair *a, size_t na,
                                size_t m)
{
    size_t kept = 0;
    for (size_t i = 0; i < na && kept < m; i++) {
        bool good = true;
        const float *ai = kept ? hnsw_row(h, a[i].id, c->tmp) : NULL;
        for (size_t j = 0; j < kept; j++) {
            if (row_dist(h, ai, a[i].id, a[j].id) < a[i].d) {
                good = false;
                break;
            }
        }
        if (good)
            a[kept++] = a[i];
    }
    return kept;
}

/* Adds row r to s's list at a level; a full list is re-selected with the heuristic. */
static void link_back(build *b, hnsw_ctx *c, uint32_t s, uint32_t r, float d, int level)
{
    const vdb_hnsw *h = b->h;
    uint32_t cap = level == 0 ? h->M0 : h->M;
    pthread_mutex_lock(&b->locks[s]);
    uint32_t *l = hnsw_list(h, s, level);
    float *ld = level == 0 ? b->l0d + (size_t)s * h->M0 : NULL;
    if (l[0] < cap) {
        if (ld)
            ld[l[0]] = d;
        l[1 + l[0]++] = r;
    } else {
        hnsw_pair *a = c->sel;
        /* c->row holds the inserted row; s is widened into c->q, free while linking back */
        const float *srow = ld ? NULL : hnsw_row(h, s, c->q);
        for (uint32_t i = 0; i < l[0]; i++) {
            a[i].id = l[1 + i];
            a[i].d = ld ? ld[i] : row_dist(h, srow, s, a[i].id);
        }
        a[l[0]].id = r;
        a[l[0]].d = d;
        qsort(a, l[0] + 1, sizeof *a, hnsw_pair_cmp);
        size_t kept = select_neighbours(h, c, a, l[0] + 1, cap);
        for (size_t i = 0; i < kept; i++) {
            l[1 + i] = a[i].id;
            if (ld)
                ld[i] = a[i].d;
        }
        l[0] = (uint32_t)kept;
    }
    pthread_mutex_unlock(&b->locks[s]);
}

static bool insert(build *b, hnsw_ctx *c, uint32_t r)
{
    vdb_hnsw *h = b->h;
    const float *q = hnsw_row(h, r, c->row);
    float qs = row_scale(h, r);
    int lr = h->level[r];

    /* A row that becomes the new top holds the top lock through its insertion, as the paper's
     * single-threaded algorithm assumes one entry point per moment. */
    pthread_mutex_lock(&b->top_lock);
    uint32_t ep = h->entry;
    int maxl = h->max_level;
    bool new_top = lr > maxl;
    if (!new_top)
        pthread_mutex_unlock(&b->top_lock);

    /* The walks run on codes, like a search; the candidates are re-scored exactly before
     * the neighbours are chosen. */
    const float *qc = q;
    if (h->metric == VDB_METRIC_COSINE) {
        for (uint32_t i = 0; i < h->dim; i++)
            c->q[i] = q[i] * qs;
        qc = c->q;
    }
    hnsw_prepare(h, qc, &c->pq);
    float epd = hnsw_qdist(h, &c->pq, ep);
    for (int lc = maxl; lc > lr; lc--) {
        bool changed = true;
        while (changed) {
            changed = false;
            uint32_t cnt = copy_list(b, ep, lc, c->ids);
            for (uint32_t i = 0; i < cnt; i++) {
                float d = hnsw_qdist(h, &c->pq, c->ids[i]);
                if (d < epd) {
                    epd = d;
                    ep = c->ids[i];
                    changed = true;
                }
            }
        }
    }
    bool ok = true;
    for (int lc = VDB_MIN(lr, maxl); lc >= 0 && ok; lc--) {
        if (!search_level(b, c, ep, epd, h->ef_construction, lc)) {
            ok = false;
            break;
        }
        size_t na = hnsw_heap_drain_sorted(&c->res, c->sel);
        /* the row itself can come back from a concurrent link; never link to self */
        size_t w = 0;
        for (size_t i = 0; i < na; i++)
            if (c->sel[i].id != r)
                c->sel[w++] = c->sel[i];
        if (w == 0)
            continue;
        /* the next level's walk starts from the closest by code, on the code scale */
        ep = c->sel[0].id;
        epd = c->sel[0].d;
        for (size_t i = 0; i < w; i++)
            c->sel[i].d = hnsw_dist(h, q, qs, c->sel[i].id);
        qsort(c->sel, w, sizeof *c->sel, hnsw_pair_cmp);
        size_t kept = select_neighbours(h, c, c->sel, w, h->M);
        /* link_back reuses sel: keep the chosen ones aside */
        hnsw_pair chosen[VDB_HNSW_M_MAX];
        memcpy(chosen, c->sel, kept * sizeof *chosen);
        pthread_mutex_lock(&b->locks[r]);
        uint32_t *l = hnsw_list(h, r, lc);
        for (size_t i = 0; i < kept; i++) {
            l[1 + i] = chosen[i].id;
            if (lc == 0)
                b->l0d[(size_t)r * h->M0 + i] = chosen[i].d;
        }
        l[0] = (uint32_t)kept;
        pthread_mutex_unlock(&b->locks[r]);
        for (size_t i = 0; i < kept; i++)
            link_back(b, c, chosen[i].id, r, chosen[i].d, lc);
    }
    if (new_top) {
        h->entry = r;
        h->max_level = lr;
        pthread_mutex_unlock(&b->top_lock);
    }
    return ok;
}

static void report(build *b, size_t add)
{
    pthread_mutex_lock(&b->progress_lock);
    b->done += add;
    if (b->progress)
        b->progress(b->arg, b->done, b->h->n);
    pthread_mutex_unlock(&b->progress_lock);
}

static void *worker(void *p)
{
    build *b = p;
    hnsw_ctx *c = hnsw_ctx_new(b->h);
    if (!c) {
        atomic_store(&b->failed, true);
        return NULL;
    }
    size_t since = 0;
    for (;;) {
        if (atomic_load_explicit(&b->failed, memory_order_relaxed))
            break;
        size_t r = atomic_fetch_add(&b->next, 1);
        if (r >= b->h->n)
            break;
        if (!insert(b, c, (uint32_t)r)) {
            atomic_store(&b->failed, true);
            break;
        }
        if (++since == PROGRESS_STEP) {
            report(b, since);
            since = 0;
        }
    }
    if (since)
        report(b, since);
    hnsw_ctx_free(c);
    return NULL;
}

/* Runs the workers: threads - 1 new ones plus the caller. A thread that cannot be started
 * only makes the build slower. */
static void run_workers(build *b, uint32_t threads)
{
    pthread_t tid[MAX_THREADS];
    uint32_t started = 0;
    for (uint32_t i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, worker, b) != 0)
            break;
        started++;
    }
    worker(b);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
}

static vdb_status build_graph(vdb_hnsw *h, uint32_t threads,
                              void (*progress)(void *, size_t, size_t), void *arg)
{
    build b = {.h = h, .progress = progress, .arg = arg};
    atomic_init(&b.next, 1);
    atomic_init(&b.failed, false);
    b.locks = vdb_malloc(h->n * sizeof *b.locks);
    b.l0d = vdb_malloc(h->n * h->M0 * sizeof *b.l0d);
    if (!b.locks || !b.l0d) {
        vdb_free(b.locks);
        vdb_free(b.l0d);
        return vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory");
    }
    size_t inited = 0;
    vdb_status st = VDB_OK;
    for (; inited < h->n; inited++) {
        if (pthread_mutex_init(&b.locks[inited], NULL) != 0) {
            st = vdb_set_errmsg(VDB_ENOMEM, "hnsw: cannot create row locks");
            break;
        }
    }
    bool top_ok = false, prog_ok = false;
    if (st == VDB_OK) {
        top_ok = pthread_mutex_init(&b.top_lock, NULL) == 0;
        prog_ok = pthread_mutex_init(&b.progress_lock, NULL) == 0;
        if (!top_ok || !prog_ok)
            st = vdb_set_errmsg(VDB_ENOMEM, "hnsw: cannot create build locks");
    }
    if (st == VDB_OK) {
        /* row 0 is the first entry point; the others are inserted by the workers */
        h->entry = 0;
        h->max_level = h->level[0];
        b.done = 1;
        if (threads > h->n)
            threads = (uint32_t)h->n;
        run_workers(&b, threads);
        if (atomic_load(&b.failed))
            st = vdb_set_errmsg(VDB_ENOMEM, "hnsw: out of memory during build");
    }
    if (top_ok)
        pthread_mutex_destroy(&b.top_lock);
    if (prog_ok)
        pthread_mutex_destroy(&b.progress_lock);
    for (size_t i = 0; i < inited; i++)
        pthread_mutex_destroy(&b.locks[i]);
    vdb_free(b.locks);
    vdb_free(b.l0d);
    return st;
}

vdb_status vdb_hnsw_build(const float *base, size_t n, uint32_t dim, vdb_metric metric,
                          uint32_t M, uint32_t ef_construction, uint32_t threads,
                          void (*progress)(void *arg, size_t done, size_t total), void *arg,
                          vdb_hnsw **out)
{
    return vdb_hnsw_build_t(VDB_TYPE_FLOAT_VECTOR, base, n, dim, metric, M, ef_construction,
                            threads, progress, arg, out);
}

vdb_status vdb_hnsw_build_t(vdb_type type, const void *base, size_t n, uint32_t dim,
                            vdb_metric metric, uint32_t M, uint32_t ef_construction,
                            uint32_t threads,
                            void (*progress)(void *arg, size_t done, size_t total), void *arg,
                            vdb_hnsw **out)
{
    if (!out || (!base && n))
        return vdb_set_errmsg(VDB_EINVAL, "hnsw: NULL argument");
    *out = NULL;
    vdb_status st = hnsw_check_params(dim, metric, M, ef_construction);
    if (st != VDB_OK)
        return st;
    if (threads == 0)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    vdb_hnsw *h;
    st = hnsw_new(type, base, n, dim, metric, M, ef_construction, &h);
    if (st != VDB_OK)
        return st;
    draw_levels(h);
    st = hnsw_layout(h);
    if (st == VDB_OK && n > 0)
        st = build_graph(h, threads, progress, arg);
    if (st != VDB_OK) {
        vdb_hnsw_free(h);
        return st;
    }
    if (progress && n <= 1)
        progress(arg, n, n);
    *out = h;
    return VDB_OK;
}

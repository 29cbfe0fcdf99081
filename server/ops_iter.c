/* vdb-server — iterators over stateless calls, for both protocols: gRPC's search iterator v2
 * and query iterator (what pymilvus and the Node SDK send) and REST's libvdb extensions
 * (entities/search_iterator, entities/query_iterator). The server keeps nothing between two
 * calls: each batch's token carries the snapshot's timestamp and where the batch ended, and the
 * next call opens the library's iterator at that timestamp again, so every batch reads the
 * first one's snapshot while it is inside the retention window (vdb_options
 * retention_seconds; after it the read is refused, naming the window).
 *
 * Tokens are text: "T:bound:keys" for a search (the last distance as %a, the keys returned at
 * exactly that distance, comma-separated), "T:key" for a query (the last key); int64 keys in
 * decimal, varchar keys in hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static int hexval(int ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* One key of a token (len bytes at k) into *i or a malloc'd *s; -1 when malformed. */
static int key_read(const char *k, size_t len, int is_str, int64_t *i, char **s)
{
    if (!is_str) {
        char *end;
        if (!len)
            return -1;
        *i = strtoll(k, &end, 10);
        return end == k + len ? 0 : -1;
    }
    if (len % 2 || !(*s = malloc(len / 2 + 1)))
        return -1;
    for (size_t j = 0; j < len / 2; j++) {
        int hi = hexval(k[2 * j]), lo = hexval(k[2 * j + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(*s);
            *s = NULL;
            return -1;
        }
        (*s)[j] = (char)(hi << 4 | lo);
    }
    (*s)[len / 2] = 0;
    return 0;
}

/* A growing token text. */
typedef struct tokbuf {
    char *p;
    size_t len, cap;
} tokbuf;

static int tok_room(tokbuf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap)
        return 0;
    size_t cap = (b->cap ? b->cap * 2 : 128) + need;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int tok_str(tokbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (tok_room(b, n))
        return -1;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
    return 0;
}

static int tok_hex(tokbuf *b, const char *s)
{
    if (tok_room(b, 2 * strlen(s)))
        return -1;
    for (const char *q = s; *q; q++)
        b->len += (size_t)snprintf(b->p + b->len, b->cap - b->len, "%02x", (unsigned char)*q);
    return 0;
}

static int tok_i64(tokbuf *b, long long x)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", x);
    return tok_str(b, t);
}

/* A key of group 0's row r of res, or of the given key, as a token holds it. */
static int tok_key(tokbuf *b, int is_str, const char *s, long long x)
{
    return is_str ? tok_hex(b, s) : tok_i64(b, x);
}

static int bad_token(srv_status *err, const char *what, const char *text)
{
    return srv_fail(err, MV_PARAMETER_INVALID, "invalid parameter: %s '%s' is not a token this "
                    "server handed out", what, text);
}

int srv_op_search_iter_batch(srv_ctx *ctx, const srv_coll *c, vdb_search_iter_req *ir,
                             const char *token, const char *what, vdb_result **res,
                             char **next, uint64_t *ts, float *last, srv_status *err)
{
    *res = NULL;
    *next = NULL;
    int is_str = c->fields[c->pk].type == VDB_TYPE_VARCHAR;
    int resume = token && *token;
    uint64_t T = 0;
    float bound = 0;
    size_t n = 0, cap = 0;
    int64_t *ints = NULL;
    char **strs = NULL;
    vdb_search_iterator *it = NULL;
    tokbuf tb = {0};
    int rc = -1;
    if (resume) {
        char *end;
        T = strtoull(token, &end, 10);
        if (*end != ':' || !T) {
            bad_token(err, what, token);
            goto out;
        }
        const char *b = end + 1;
        bound = strtof(b, &end);
        if (end == b || *end != ':') {
            bad_token(err, what, token);
            goto out;
        }
        const char *k = end + 1;
        cap = *k ? 1 : 0;
        for (const char *q = k; *q; q++)
            cap += *q == ',';
        if (!(ints = calloc(cap + 1, sizeof *ints)) ||
            (is_str && !(strs = calloc(cap + 1, sizeof *strs)))) {
            srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
            goto out;
        }
        while (*k) {
            size_t len = strcspn(k, ",");
            if (key_read(k, len, is_str, &ints[n], is_str ? &strs[n] : NULL)) {
                bad_token(err, what, token);
                goto out;
            }
            n++;
            k += len + (k[len] == ',');
        }
        ir->read.travel_ts = T;
    }
    vdb_pk_list ties = {.ints = is_str ? NULL : ints, .strs = (const char *const *)strs,
                        .count = n};
    ir->resume = resume;
    ir->last_bound = bound;
    ir->last_pks = &ties;
    vdb_status st;
    if ((st = vdb_search_iterator_open(ctx->db, ir, &it)) != VDB_OK ||
        (st = vdb_search_iterator_next(it, res)) != VDB_OK) {
        srv_fail_vdb(ctx, err, st, ir->collection, MV_PARTITION_NOT_FOUND);
        goto out;
    }
    T = vdb_search_iterator_ts(it);
    size_t rows = vdb_result_rows(*res, 0);
    float lastd = rows ? vdb_result_distance(*res, 0, rows - 1) : bound;
    /* the next token: the keys at exactly the last distance (the earlier ones too when the
     * batch ended at the same distance as the one before) */
    char head[96];
    snprintf(head, sizeof head, "%llu:%a:", (unsigned long long)T, (double)lastd);
    if (tok_str(&tb, head))
        goto oom;
    int first = 1;
    for (size_t i = 0; resume && (rows == 0 || lastd == bound) && i < n; i++) {
        if ((!first && tok_str(&tb, ",")) ||
            tok_key(&tb, is_str, is_str ? strs[i] : NULL, (long long)ints[i]))
            goto oom;
        first = 0;
    }
    for (size_t r = 0; r < rows; r++) {
        if (vdb_result_distance(*res, 0, r) != lastd)
            continue;
        if ((!first && tok_str(&tb, ",")) ||
            tok_key(&tb, is_str, is_str ? vdb_result_pk_str(*res, 0, r) : NULL,
                    is_str ? 0 : (long long)vdb_result_pk_int(*res, 0, r)))
            goto oom;
        first = 0;
    }
    *next = tb.p;
    tb.p = NULL;
    *ts = T;
    *last = lastd;
    rc = 0;
    goto out;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
out:
    if (rc) {
        vdb_result_free(*res);
        *res = NULL;
    }
    free(tb.p);
    vdb_search_iterator_close(it);
    for (size_t i = 0; strs && i < n; i++)
        free(strs[i]);
    free(strs);
    free(ints);
    return rc;
}

/* A varchar key as an expression's string literal (escaped), appended to b. */
static int str_literal(tokbuf *b, const char *s)
{
    if (tok_room(b, 6 * strlen(s) + 2)) /* \uXXXX at worst for a control byte */
        return -1;
    b->p[b->len++] = '"';
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = (char)*q;
        } else if (*q < 0x20) {
            b->len += (size_t)snprintf(b->p + b->len, b->cap - b->len, "\\u%04x", *q);
        } else {
            b->p[b->len++] = (char)*q;
        }
    }
    b->p[b->len++] = '"';
    b->p[b->len] = 0;
    return 0;
}

int srv_op_query_iter_batch(srv_ctx *ctx, const srv_coll *c, vdb_query_iter_req *qr,
                            const char *token, const char *what, vdb_result **res,
                            char **next, uint64_t *ts, srv_status *err)
{
    *res = NULL;
    *next = NULL;
    const vdb_field_def *pk = &c->fields[c->pk];
    int is_str = pk->type == VDB_TYPE_VARCHAR;
    int resume = token && *token;
    int64_t lasti = 0;
    char *lasts = NULL;
    tokbuf f = {0}, tb = {0};
    vdb_query_iterator *it = NULL;
    int rc = -1;
    const char *filter = qr->filter;
    if (resume) {
        char *end;
        uint64_t T = strtoull(token, &end, 10);
        if (*end != ':' || !T || key_read(end + 1, strlen(end + 1), is_str, &lasti, &lasts)) {
            bad_token(err, what, token);
            goto out;
        }
        qr->read.travel_ts = T;
        /* the keys above the last one returned: "(filter) && pk > last" */
        int has = filter && filter[strspn(filter, " \t\r\n")];
        size_t need = (has ? strlen(filter) : 0) + strlen(pk->name) + 32;
        if (!(f.p = malloc(need))) {
            srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
            goto out;
        }
        f.cap = need;
        f.len = (size_t)snprintf(f.p, need, has ? "(%s) && %s > " : "%s%s > ",
                                 has ? filter : "", pk->name);
        if (is_str ? str_literal(&f, lasts) : tok_i64(&f, lasti))
            goto oom;
        qr->filter = f.p;
    }
    vdb_status st;
    if ((st = vdb_query_iterator_open(ctx->db, qr, &it)) != VDB_OK ||
        (st = vdb_query_iterator_next(it, res)) != VDB_OK) {
        srv_fail_vdb(ctx, err, st, qr->collection, MV_PARTITION_NOT_FOUND);
        goto out;
    }
    *ts = vdb_query_iterator_ts(it);
    size_t rows = *res && vdb_result_groups(*res) ? vdb_result_rows(*res, 0) : 0;
    char head[32];
    snprintf(head, sizeof head, "%llu:", (unsigned long long)*ts);
    if (tok_str(&tb, head))
        goto oom;
    if (rows ? tok_key(&tb, is_str, is_str ? vdb_result_pk_str(*res, 0, rows - 1) : NULL,
                       is_str ? 0 : (long long)vdb_result_pk_int(*res, 0, rows - 1))
             : resume && tok_key(&tb, is_str, lasts, lasti))
        goto oom;
    *next = tb.p;
    tb.p = NULL;
    rc = 0;
    goto out;
oom:
    srv_fail(err, MV_MEMORY_LIMIT, "memory limit exceeded");
out:
    if (rc) {
        vdb_result_free(*res);
        *res = NULL;
    }
    qr->filter = filter;
    vdb_query_iterator_close(it);
    free(f.p);
    free(tb.p);
    free(lasts);
    return rc;
}

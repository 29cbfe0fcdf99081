/* libFuzzer target for vdb-server's HTTP/1.1 server (server/http.c): the request line, the
 * header fields, Content-Length and chunked bodies, pipelining, the limits and every refusal,
 * through srv_http_feed: one connection's reads go through the code the event loop runs, and
 * each complete request is answered here instead of by a worker (the REST handlers behind it
 * are fuzz_rest's).
 *
 * Input: u8 flags (bit 0: the server wants --token "fuzz-token"; bit 1: it is quiescing),
 * u8 step (0: the bytes arrive in one read; else reads of step bytes each), then the bytes the
 * client sends. Checks: what the server writes is a sequence of whole HTTP/1.1 answers (status
 * line, header fields, Content-Length, a body of that length, JSON with an integer "code" for
 * application/json); each request handed over is answered exactly once; no request is left
 * counted as in flight once the connection is gone (srv_loops_drain would wait for it). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK "\"fuzzAnswer\":1"

static srv_config cfg;
static srv_ctx ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    cfg.max_body = 1 << 20;
    cfg.timeout = cfg.request_timeout = cfg.header_timeout = 3600;
    ctx.cfg = &cfg;
    return 0;
}

static json_t *answer(void *arg, const srv_route *route, const char *user, const char *body,
                      size_t len)
{
    (void)arg;
    (void)user;
    if (!route || (len && !body))
        __builtin_trap();
    return json_pack("{s:i, s:i, s:s, s:I}", "code", 0, "fuzzAnswer", 1, "route", route->path,
                     "len", (json_int_t)len);
}

/* The value of header name in head[0..n), or NULL. */
static const char *header(const char *head, size_t n, const char *name, size_t *vn)
{
    size_t nl = strlen(name);
    for (const char *p = head; p < head + n;) {
        const char *eol = memchr(p, '\n', (size_t)(head + n - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl + 1 && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            *vn = (size_t)(eol - v) - (eol > v && eol[-1] == '\r');
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Walks the answers in out; returns how many carry this target's mark. *stopped: the walk
 * ended early at a web page file (a HEAD's has no body, so where the next answer begins is
 * not known here). */
static unsigned check_answers(const char *out, size_t len, int *stopped)
{
    *stopped = 0;
    unsigned marked = 0;
    size_t off = 0;
    while (off < len) {
        const char *a = out + off;
        size_t left = len - off;
        if (left < 17 || memcmp(a, "HTTP/1.1 ", 9) || a[9] < '1' || a[9] > '5' ||
            a[10] < '0' || a[10] > '9' || a[11] < '0' || a[11] > '9' || a[12] != ' ')
            __builtin_trap();
        const char *end = memmem(a, left, "\r\n\r\n", 4);
        if (!end)
            __builtin_trap();
        size_t hl = (size_t)(end - a) + 4;
        if (!memcmp(a + 9, "100", 3)) { /* interim: no body */
            off += hl;
            continue;
        }
        size_t vn = 0, tn = 0;
        const char *cl = header(a, hl, "Content-Length", &vn);
        const char *type = header(a, hl, "Content-Type", &tn);
        if (!cl || !type)
            __builtin_trap();
        unsigned long long blen = strtoull(cl, NULL, 10);
        int json = tn == 16 && !memcmp(type, "application/json", 16);
        if (!json && !(tn == 10 && !memcmp(type, "text/plain", 10))) {
            *stopped = 1;
            return marked;
        }
        if (blen > left - hl)
            __builtin_trap();
        if (json) {
            json_error_t e;
            json_t *v = json_loadb(a + hl, (size_t)blen, 0, &e);
            if (!v || !json_is_object(v) || !json_is_integer(json_object_get(v, "code")))
                __builtin_trap();
            json_decref(v);
            if (memmem(a + hl, (size_t)blen, MARK, strlen(MARK)))
                marked++;
        }
        off += hl + (size_t)blen;
    }
    return marked;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    cfg.token = data[0] & 1 ? "fuzz-token" : NULL;
    size_t step = data[1], n = size - 2;
    const char *bytes = (const char *)data + 2;
    size_t np = step && n ? (n + step - 1) / step : 1;
    const char **pieces = malloc(np * sizeof *pieces);
    size_t *lens = malloc(np * sizeof *lens);
    if (!pieces || !lens)
        abort();
    for (size_t i = 0; i < np; i++) {
        pieces[i] = bytes + (step ? i * step : 0);
        lens[i] = step ? (n - i * step < step ? n - i * step : step) : n;
    }
    srv_http_fed res;
    if (srv_http_feed(&ctx, pieces, lens, np, answer, NULL, (data[0] >> 1) & 1, &res) != 0)
        abort();
    if (res.active != 0 || res.oom)
        __builtin_trap();
    int stopped;
    unsigned marked = check_answers(res.out, res.out_len, &stopped);
    if (marked > res.requests || (!stopped && marked != res.requests))
        __builtin_trap(); /* a request handed over and not answered, or answered twice */
    free(res.out);
    free(pieces);
    free(lens);
    return 0;
}

/* libFuzzer target for vdb-server's HTTP/2 server (server/h2.c on nghttp2): frames, HPACK
 * header blocks, streams, flow control, the request checks (method, content-type, :path,
 * grpc-timeout, grpc-encoding, the token), the gRPC framing of a message and its size limits,
 * through srv_h2_feed: one connection's reads go through the code the event loop runs, and each
 * call is answered here instead of by srv_grpc_run on a worker (the decoding of the messages
 * is fuzz_grpc's).
 *
 * Input: u8 flags (bit 0: the server wants --token "fuzz-token"; bit 1: it is quiescing;
 * bit 2: the calls answer an error instead of an empty message), u8 step (0: the bytes arrive
 * in one read; else reads of step bytes each), then the bytes the client sends, starting with
 * its preface. Checks: no crash, leak or hang, a call is run only once it is handed over, and
 * no call is left counted as in flight once the connection is gone (srv_loops_drain would
 * wait for it).
 *
 * With FUZZ_H2_SEEDS=<folder> in the environment the program writes seed inputs there (whole
 * conversations an nghttp2 client session encodes: unary calls, several streams, a message
 * over several DATA frames, refused requests, RST_STREAM, PING, GOAWAY) and exits. */
#define _GNU_SOURCE
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_config cfg;
static srv_ctx ctx;
static int answer_error;
static unsigned ran;

static void run(void *arg, const srv_grpc_method *m, const char *dbname, const uint8_t *msg,
                size_t len, srv_grpc_reply *out)
{
    (void)arg;
    if (!m || !dbname || (len && !msg))
        __builtin_trap();
    ran++;
    if (answer_error) {
        out->status = 3;
        snprintf(out->message, sizeof out->message, "fuzz: an error answer \x01%%");
        return;
    }
    out->buf = calloc(1, 5 + 2); /* the 5-byte prefix, then 2 bytes of message */
    if (!out->buf)
        abort();
    out->buf[4] = 2;
    out->buf[5] = 0x08; /* field 1, varint 0 */
    out->len = 7;
}

/* ---- seeds ---------------------------------------------------------------------------------- */

typedef struct seed_out {
    uint8_t *p;
    size_t n;
} seed_out;

static void seed_take(nghttp2_session *s, seed_out *o)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(s, &d)) > 0) {
        o->p = realloc(o->p, o->n + (size_t)n);
        if (!o->p)
            abort();
        memcpy(o->p + o->n, d, (size_t)n);
        o->n += (size_t)n;
    }
}

typedef struct seed_body {
    const uint8_t *p;
    size_t n, off, frame; /* frame: at most this many bytes per DATA frame */
} seed_body;

static ssize_t seed_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)s;
    (void)id;
    (void)user;
    seed_body *b = src->ptr;
    size_t k = b->n - b->off;
    if (k > len)
        k = len;
    if (b->frame && k > b->frame)
        k = b->frame;
    memcpy(buf, b->p + b->off, k);
    b->off += k;
    if (b->off == b->n)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

static void seed_write(const char *dir, const char *name, uint8_t flags, uint8_t step,
                       const seed_out *o)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(flags, f) == EOF || fputc(step, f) == EOF ||
        fwrite(o->p, 1, o->n, f) != o->n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_h2: cannot write %s\n", path);
        exit(1);
    }
}

#define SVC "/milvus.proto.milvus.MilvusService/"
#define NV(k, v) {(uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* One conversation: n calls (method path, content-type, the message with its prefix, how
 * many bytes per DATA frame), then extra frames. */
static void seed_conv(const char *dir, const char *name, uint8_t flags, uint8_t step,
                      const char *const *paths, const char *type, const uint8_t *msg,
                      size_t mlen, size_t frame, int ncalls, int extra)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_session_client_new(&s, cb, NULL))
        abort();
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
    seed_out o = {0}; /* the client session writes the preface first */
    seed_body bodies[4];
    int32_t ids[4];
    for (int i = 0; i < ncalls && i < 4; i++) {
        nghttp2_nv nv[] = {
            NV(":method", "POST"), NV(":scheme", "http"), NV(":path", paths[i]),
            NV(":authority", "localhost:19530"), NV("content-type", type), NV("te", "trailers"),
            NV("grpc-timeout", "10S"), NV("grpc-encoding", "identity"),
            NV("authorization", "ZnV6ei10b2tlbg=="), /* base64 of fuzz-token */
            NV("dbname", "default"),
        };
        bodies[i] = (seed_body){msg, mlen, 0, frame};
        nghttp2_data_provider dp = {.source.ptr = &bodies[i], .read_callback = seed_read};
        ids[i] = nghttp2_submit_request(s, NULL, nv, sizeof nv / sizeof *nv, mlen ? &dp : NULL,
                                        NULL);
    }
    if (extra & 1)
        nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE, NULL);
    if (extra & 2)
        nghttp2_submit_window_update(s, NGHTTP2_FLAG_NONE, 0, 1 << 20);
    seed_take(s, &o);
    if (extra & 4)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, ids[0], NGHTTP2_CANCEL);
    if (extra & 8)
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    seed_take(s, &o);
    seed_write(dir, name, flags, step, &o);
    free(o.p);
    nghttp2_session_del(s);
}

static void write_seeds(const char *dir)
{
    /* a ShowCollectionsRequest with db_name "default" (field 1... as bytes: the target does not
     * decode it) behind its 5-byte prefix */
    static const uint8_t msg[] = {0, 0, 0, 0, 9, 0x0a, 7, 'd', 'e', 'f', 'a', 'u', 'l', 't'};
    static const uint8_t compressed[] = {1, 0, 0, 0, 1, 0};
    static const uint8_t short_len[] = {0, 0, 0, 0, 9, 0x0a};
    static const uint8_t huge_len[] = {0, 0x7f, 0xff, 0xff, 0xff, 0x0a};
    static const char *const show[] = {SVC "ShowCollections", SVC "Search", SVC "Insert",
                                       SVC "Query"};
    static const char *const other[] = {SVC "NoSuchMethod", "/other.Service/X", "/", ""};
    const char *g = "application/grpc";
    seed_conv(dir, "unary", 0, 0, show, g, msg, sizeof msg, 0, 1, 0);
    seed_conv(dir, "unary_token", 1, 0, show, g, msg, sizeof msg, 0, 1, 0);
    seed_conv(dir, "unary_bytes", 0, 1, show, g, msg, sizeof msg, 0, 1, 0);
    seed_conv(dir, "four_streams", 4, 7, show, g, msg, sizeof msg, 0, 4, 3);
    seed_conv(dir, "data_frames", 0, 0, show, g, msg, sizeof msg, 3, 2, 0);
    seed_conv(dir, "quiesced", 2, 0, show, g, msg, sizeof msg, 0, 2, 0);
    seed_conv(dir, "no_message", 0, 0, show, g, NULL, 0, 0, 1, 0);
    seed_conv(dir, "compressed", 0, 0, show, g, compressed, sizeof compressed, 0, 1, 0);
    seed_conv(dir, "short_len", 0, 0, show, g, short_len, sizeof short_len, 0, 1, 0);
    seed_conv(dir, "huge_len", 0, 0, show, g, huge_len, sizeof huge_len, 0, 1, 0);
    seed_conv(dir, "not_grpc", 0, 0, show, "application/json", msg, sizeof msg, 0, 1, 0);
    seed_conv(dir, "unknown", 0, 0, other, g, msg, sizeof msg, 0, 4, 0);
    seed_conv(dir, "rst_goaway", 0, 0, show, g, msg, sizeof msg, 4, 2, 12);
}

/* ---- the target ----------------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cfg.max_body = 1 << 20;
    cfg.max_streams = 16;
    cfg.timeout = cfg.request_timeout = cfg.header_timeout = 3600;
    ctx.cfg = &cfg;
    const char *dir = getenv("FUZZ_H2_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    cfg.token = data[0] & 1 ? "fuzz-token" : NULL;
    answer_error = (data[0] >> 2) & 1;
    size_t step = data[1], n = size - 2;
    const uint8_t *bytes = data + 2;
    size_t np = step && n ? (n + step - 1) / step : 1;
    const uint8_t **pieces = malloc(np * sizeof *pieces);
    size_t *lens = malloc(np * sizeof *lens);
    if (!pieces || !lens)
        abort();
    for (size_t i = 0; i < np; i++) {
        pieces[i] = bytes + (step ? i * step : 0);
        lens[i] = step ? (n - i * step < step ? n - i * step : step) : n;
    }
    ran = 0;
    srv_h2_fed res;
    if (srv_h2_feed(&ctx, pieces, lens, np, run, NULL, (data[0] >> 1) & 1, &res) != 0)
        abort();
    if (res.active != 0 || res.calls < ran)
        __builtin_trap();
    free(pieces);
    free(lens);
    return 0;
}

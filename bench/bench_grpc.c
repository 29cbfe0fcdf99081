/* bench_grpc — the gRPC half of bench/bench_http.sh: the same search and insert work sent to
 * vdb-server as Milvus's gRPC calls (Search, Insert), from N threads with one connection and
 * one call in flight each (as wrk's connections), with QPS and p50/p99 latency. A small
 * HTTP/2 client on nghttp2 and the server's own protobuf-c messages: what is measured is the
 * server, not a client library.
 *
 *   bench_grpc --port P [--host 127.0.0.1] [--dim 128] [--batch 100] [--threads 8]
 *              [--seconds 10] [--k 10] [--mode search|insert]
 * Prints one line: "grpc MODE threads=N qps=... p50_ms=... p99_ms=... errors=...".
 * Search goes to collection "bench" (vector field "vector"), insert to "bench_ins" (autoID).
 */
#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_load.h"

#include "common.pb-c.h"
#include "milvus.pb-c.h"
#include "schema.pb-c.h"

static const char *host = "127.0.0.1";
static int port, threads = 8, seconds = 10, search_mode = 1;
static uint32_t dim = 128, k = 10;
static size_t batch = 100;
static atomic_int stop;

typedef struct conn {
    int fd;
    nghttp2_session *s;
    const uint8_t *req;
    size_t req_len, req_off;
    int done, status;
    size_t resp_bytes;
} conn;

static ssize_t read_req(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *user)
{
    conn *c = user;
    size_t n = c->req_len - c->req_off < len ? c->req_len - c->req_off : len;
    memcpy(buf, c->req + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    conn *c = user;
    if (nlen == 11 && !memcmp(name, "grpc-status", 11))
        c->status = atoi((const char *)value);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    ((conn *)user)->resp_bytes += len;
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
    conn *c = user;
    c->done = 1;
    if (code)
        c->status = -1;
    return 0;
}

static int pump(conn *c)
{
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->s, &data)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(c->fd, data + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                return -1;
            off += w;
        }
    return n < 0 ? -1 : 0;
}

static int connect_to(conn *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_client_new(&c->s, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20}};
    nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 1);
    nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, 16 << 20);
    return pump(c);
}

/* One unary call; returns its grpc-status (-1: transport error). */
static int call(conn *c, const char *method, const uint8_t *msg, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "/milvus.proto.milvus.MilvusService/%s", method);
    nghttp2_nv nv[] = {
#define NV(a, b) {(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), NGHTTP2_NV_FLAG_NONE}
        NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "bench"),
        NV(":path", path), NV("content-type", "application/grpc"), NV("te", "trailers"),
#undef NV
    };
    c->req = msg;
    c->req_len = len;
    c->req_off = 0;
    c->done = 0;
    c->status = -1;
    nghttp2_data_provider dp = {.read_callback = read_req};
    if (nghttp2_submit_request(c->s, NULL, nv, sizeof nv / sizeof nv[0], &dp, NULL) < 0 ||
        pump(c) != 0)
        return -1;
    uint8_t buf[65536];
    while (!c->done) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n <= 0 || nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0 || pump(c) != 0)
            return -1;
    }
    return c->status;
}

/* A framed (5-byte prefix) packed message. */
static uint8_t *frame(const ProtobufCMessage *m, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n + 5);
    protobuf_c_message_pack(m, b + 5);
    b[0] = 0;
    b[1] = (uint8_t)(n >> 24);
    b[2] = (uint8_t)(n >> 16);
    b[3] = (uint8_t)(n >> 8);
    b[4] = (uint8_t)n;
    *len = n + 5;
    return b;
}

static uint8_t *search_msg(uint64_t *seed, size_t *len)
{
    float *q = malloc(dim * sizeof *q);
    bench_fill(q, dim, seed);
    ProtobufCBinaryData v = {dim * sizeof(float), (uint8_t *)q};
    Milvus__Proto__Common__PlaceholderValue pv = MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT;
    pv.tag = (char *)"$0";
    pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
    pv.values = &v;
    pv.n_values = 1;
    Milvus__Proto__Common__PlaceholderValue *pvs[] = {&pv};
    Milvus__Proto__Common__PlaceholderGroup pg = MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
    pg.placeholders = pvs;
    pg.n_placeholders = 1;
    size_t pglen = protobuf_c_message_get_packed_size(&pg.base);
    uint8_t *pgb = malloc(pglen);
    protobuf_c_message_pack(&pg.base, pgb);
    char topk[16];
    snprintf(topk, sizeof topk, "%u", k);
    Milvus__Proto__Common__KeyValuePair kv[3] = {MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
                                                 MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT,
                                                 MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT};
    kv[0].key = (char *)"anns_field";
    kv[0].value = (char *)"vector";
    kv[1].key = (char *)"topk";
    kv[1].value = topk;
    kv[2].key = (char *)"params";
    kv[2].value = (char *)"{}";
    Milvus__Proto__Common__KeyValuePair *kvs[] = {&kv[0], &kv[1], &kv[2]};
    Milvus__Proto__Milvus__SearchRequest r = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__INIT;
    r.collection_name = (char *)"bench";
    r.search_input_case = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__SEARCH_INPUT_PLACEHOLDER_GROUP;
    r.placeholder_group = (ProtobufCBinaryData){pglen, pgb};
    r.dsl_type = 1;
    r.search_params = kvs;
    r.n_search_params = 3;
    r.nq = 1;
    uint8_t *b = frame(&r.base, len);
    free(pgb);
    free(q);
    return b;
}

static uint8_t *insert_msg(uint64_t *seed, size_t *len)
{
    float *v = malloc(batch * dim * sizeof *v);
    bench_fill(v, batch * dim, seed);
    Milvus__Proto__Schema__FloatArray fa = MILVUS__PROTO__SCHEMA__FLOAT_ARRAY__INIT;
    fa.data = v;
    fa.n_data = batch * dim;
    Milvus__Proto__Schema__VectorField vf = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__INIT;
    vf.dim = dim;
    vf.data_case = MILVUS__PROTO__SCHEMA__VECTOR_FIELD__DATA_FLOAT_VECTOR;
    vf.float_vector = &fa;
    Milvus__Proto__Schema__FieldData fd = MILVUS__PROTO__SCHEMA__FIELD_DATA__INIT;
    fd.type = MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector;
    fd.field_name = (char *)"vector";
    fd.field_case = MILVUS__PROTO__SCHEMA__FIELD_DATA__FIELD_VECTORS;
    fd.vectors = &vf;
    Milvus__Proto__Schema__FieldData *fds[] = {&fd};
    Milvus__Proto__Milvus__InsertRequest r = MILVUS__PROTO__MILVUS__INSERT_REQUEST__INIT;
    r.collection_name = (char *)"bench_ins";
    r.fields_data = fds;
    r.n_fields_data = 1;
    r.num_rows = (uint32_t)batch;
    uint8_t *b = frame(&r.base, len);
    free(v);
    return b;
}

typedef struct worker {
    int id;
    double *lat;
    size_t n, cap;
    long errors;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    conn c = {0};
    if (connect_to(&c) != 0) {
        fprintf(stderr, "bench_grpc: cannot connect to %s:%d\n", host, port);
        exit(1);
    }
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    /* a few requests made up front, cycled (the client's encoding is not what is measured) */
    enum { NREQ = 16 };
    uint8_t *reqs[NREQ];
    size_t lens[NREQ];
    for (int i = 0; i < NREQ; i++)
        reqs[i] = search_mode ? search_msg(&seed, &lens[i]) : insert_msg(&seed, &lens[i]);
    for (size_t i = 0; !atomic_load(&stop); i++) {
        double t0 = bench_now_s();
        int st = call(&c, search_mode ? "Search" : "Insert", reqs[i % NREQ], lens[i % NREQ]);
        double dt = bench_now_s() - t0;
        if (st != 0) {
            w->errors++;
            if (st < 0)
                break;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        }
        w->lat[w->n++] = dt;
    }
    for (int i = 0; i < NREQ; i++)
        free(reqs[i]);
    nghttp2_session_del(c.s);
    close(c.fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--port")) port = atoi(v);
        else if (!strcmp(o, "--host")) host = v;
        else if (!strcmp(o, "--dim")) dim = (uint32_t)atoi(v);
        else if (!strcmp(o, "--batch")) batch = (size_t)atoi(v);
        else if (!strcmp(o, "--threads")) threads = atoi(v);
        else if (!strcmp(o, "--seconds")) seconds = atoi(v);
        else if (!strcmp(o, "--k")) k = (uint32_t)atoi(v);
        else if (!strcmp(o, "--mode")) search_mode = !strcmp(v, "search");
        else {
            fprintf(stderr, "bench_grpc: unknown option %s\n", o);
            return 2;
        }
    }
    if (!port) {
        fprintf(stderr, "usage: bench_grpc --port P [--mode search|insert] ...\n");
        return 2;
    }
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    double t0 = bench_now_s();
    for (int i = 0; i < threads; i++) {
        ws[i].id = i;
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    sleep((unsigned)seconds);
    atomic_store(&stop, 1);
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += ws[i].n;
        errors += ws[i].errors;
    }
    double elapsed = bench_now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k2 = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k2, ws[i].lat, ws[i].n * sizeof *all);
        k2 += ws[i].n;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_d);
    printf("grpc %s threads=%d qps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%ld\n",
           search_mode ? "search" : "insert", threads, (double)total / elapsed,
           total ? all[total / 2] * 1e3 : 0, total ? all[total * 99 / 100] * 1e3 : 0, errors);
    free(all);
    free(ws);
    free(th);
    return errors ? 1 : 0;
}

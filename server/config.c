/* vdb-server — configuration: defaults, the key=value config file, then the flags. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server.h"

/* Every option is a flag and a config-file key of the same name. */
enum { OPT_STR, OPT_INT, OPT_SIZE };
typedef struct opt_def {
    const char *name;
    int kind;
    size_t offset;
    const char *arg;
    const char *help;
} opt_def;

#define OFF(f) offsetof(srv_config, f)
static const opt_def opts[] = {
    {"host", OPT_STR, OFF(host), "ADDR",
     "address to listen on (default 127.0.0.1, loopback only; Milvus listens on all "
     "interfaces: pass 0.0.0.0 for that)"},
    {"port", OPT_INT, OFF(port), "N", "TCP port (default 19530, as Milvus; 0 picks a free one, printed on stdout)"},
    {"data", OPT_STR, OFF(data), "DIR", "database folder (default ./vdb-data)"},
    {"log-uri", OPT_STR, OFF(log_uri), "URI",
     "log backend (default wal://DIR/wal; rocksdb:///dir, nats://host:4222/prefix)"},
    {"meta-uri", OPT_STR, OFF(meta_uri), "URI",
     "meta backend (default local://DIR/meta; rocksdb:///dir, etcd://host:2379/prefix)"},
    {"object-uri", OPT_STR, OFF(object_uri), "URI",
     "object backend (default file://DIR/objects; s3://bucket/prefix?endpoint=...)"},
    {"sync", OPT_STR, OFF(sync), "MODE",
     "when an acknowledged write is on disk: full (fdatasync before answering, default), "
     "batch (every 100 ms), off"},
    {"threads", OPT_INT, OFF(threads), "N",
     "request workers for reads (default: one per CPU, at least 2); writes get half as many "
     "on their own lane, so searches never queue behind inserts"},
    {"io-threads", OPT_INT, OFF(io_threads), "N",
     "connection threads, for HTTP/1.1 and for HTTP/2 each (default 2)"},
    {"token", OPT_STR, OFF(token), "TOKEN",
     "require 'Authorization: Bearer TOKEN' on every request (Milvus's root:Milvus form works)"},
    {"authorization", OPT_INT, OFF(authorization), "0|1",
     "1: each request names a user ('Authorization: Bearer user:password'), checked against "
     "the users and roles in the database (Milvus's authorizationEnabled); default 0"},
    {"tls-cert", OPT_STR, OFF(tls_cert), "FILE", "PEM certificate: serve HTTPS (with --tls-key)"},
    {"tls-key", OPT_STR, OFF(tls_key), "FILE", "PEM private key of --tls-cert"},
    {"log-level", OPT_STR, OFF(log_level), "LEVEL", "error, warn, info (default) or debug"},
    {"max-body", OPT_SIZE, OFF(max_body), "BYTES",
     "largest request body or gRPC message (default 64M; suffixes K, M, G); larger ones are refused before "
     "they are read"},
    {"timeout", OPT_INT, OFF(timeout), "SECONDS",
     "close a connection idle this long, e.g. a client that stalls mid-request (default 30)"},
    {"request-timeout", OPT_INT, OFF(request_timeout), "SECONDS",
     "longest time to receive one request, however slowly it trickles in (default 120)"},
    {"header-timeout", OPT_INT, OFF(header_timeout), "SECONDS",
     "longest time to receive a REST request's line and headers (default 10; slowloris)"},
    {"max-connections", OPT_INT, OFF(max_conns), "N",
     "connections served at once, REST and gRPC together; more are answered 503 and closed "
     "(default 256)"},
    {"max-streams", OPT_INT, OFF(max_streams), "N",
     "gRPC: concurrent calls (HTTP/2 streams) per connection (default 100)"},
    {"drain-timeout", OPT_INT, OFF(drain_timeout), "SECONDS",
     "on SIGTERM/SIGINT, how long to wait for requests in flight (default 30)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: vdb-server [options]\n"
               "Serves a libvdb database over Milvus's RESTful API v2 (POST /v2/vectordb/...) and\n"
               "its gRPC API (milvus.proto.milvus.MilvusService), both on one port.\n\n"
               "  --config FILE          read KEY=VALUE lines first (keys: the option names\n"
               "                         below without --; '#' starts a comment); flags win\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", opts[i].name, opts[i].arg);
        fprintf(f, "  %-22s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-22s %s\n  %-22s %s\n", "--help", "print this and exit", "--version",
            "print the server and library versions and exit");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    default: return -1;
    }
    if ((*end == 'b' || *end == 'B') && mul > 1)
        end++;
    if (*end || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int set_opt(srv_config *cfg, const opt_def *o, const char *val, const char *where)
{
    void *p = (char *)cfg + o->offset;
    if (o->kind == OPT_STR) {
        char **s = p;
        free(*s);
        *s = *val ? strdup(val) : NULL;
        return 0;
    }
    if (o->kind == OPT_SIZE) {
        if (parse_size(val, p) == 0)
            return 0;
    } else {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (!errno && end != val && !*end && v >= 0 && v <= INT_MAX) {
            *(int *)p = (int)v;
            return 0;
        }
    }
    fprintf(stderr, "vdb-server: %s: bad value '%s' for %s\n", where, val, o->name);
    return -1;
}

static const opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(opts[i].name, name))
            return &opts[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = 0;
    return s;
}

static int load_file(srv_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "vdb-server: cannot read config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!eq) {
            fprintf(stderr, "vdb-server: %s: expected KEY=VALUE\n", where);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = 0;
            val++;
        }
        for (char *k = key; *k; k++)
            if (*k == '_')
                *k = '-'; /* log_uri and log-uri both work */
        const opt_def *o = find_opt(key);
        if (!o) {
            fprintf(stderr, "vdb-server: %s: unknown key '%s'\n", where, key);
            rc = -1;
        } else {
            rc = set_opt(cfg, o, val, where);
        }
    }
    fclose(f);
    return rc;
}

int srv_config_load(srv_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = strdup("127.0.0.1");
    cfg->port = 19530;
    cfg->data = strdup("./vdb-data");
    cfg->log_level = strdup("info");
    cfg->max_body = 64ull << 20;
    cfg->timeout = 30;
    cfg->request_timeout = 120;
    cfg->header_timeout = 10;
    cfg->max_conns = 256;
    cfg->max_streams = 100;
    cfg->drain_timeout = 30;
    cfg->io_threads = 2;

    struct option lo[NOPTS + 4];
    for (size_t i = 0; i < NOPTS; i++)
        lo[i] = (struct option){opts[i].name, required_argument, NULL, 1000 + (int)i};
    lo[NOPTS] = (struct option){"config", required_argument, NULL, 'c'};
    lo[NOPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NOPTS + 2] = (struct option){"version", no_argument, NULL, 'V'};
    lo[NOPTS + 3] = (struct option){0, 0, 0, 0};

    /* pass 1: --config, --help, --version; pass 2: the flags over the file's values */
    for (int pass = 1; pass <= 2; pass++) {
        optind = 1;
        opterr = pass == 1;
        int c;
        while ((c = getopt_long(argc, argv, "hc:", lo, NULL)) != -1) {
            if (c == '?' || c == ':') {
                if (pass == 1) {
                    usage(stderr);
                    return -1;
                }
                continue;
            }
            if (pass == 1) {
                if (c == 'h') {
                    usage(stdout);
                    return 1;
                }
                if (c == 'V') {
                    printf("vdb-server %s (libvdb %s)\n", VDB_VERSION_STRING, vdb_version());
                    return 1;
                }
                if (c == 'c' && load_file(cfg, optarg) != 0)
                    return -1;
                continue;
            }
            if (c >= 1000 && set_opt(cfg, &opts[c - 1000], optarg, "command line") != 0)
                return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vdb-server: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (!cfg->host || cfg->port < 0 || cfg->port > 65535) {
        fprintf(stderr, "vdb-server: --port must be 0..65535 (0: any free port)\n");
        return -1;
    }
    if (!cfg->data) {
        fprintf(stderr, "vdb-server: --data must name a folder\n");
        return -1;
    }
    if (!!cfg->tls_cert != !!cfg->tls_key) {
        fprintf(stderr, "vdb-server: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (srv_log_set_level(cfg->log_level ? cfg->log_level : "info") != 0) {
        fprintf(stderr, "vdb-server: unknown --log-level '%s' (error, warn, info, debug)\n",
                cfg->log_level);
        return -1;
    }
    if (cfg->sync && strcmp(cfg->sync, "full") && strcmp(cfg->sync, "batch") &&
        strcmp(cfg->sync, "off")) {
        fprintf(stderr, "vdb-server: --sync must be full, batch or off\n");
        return -1;
    }
    if (cfg->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = n < 2 ? 2 : n > 64 ? 64 : (int)n;
    }
    if (cfg->io_threads < 1)
        cfg->io_threads = 1;
    if (cfg->max_conns < 1 || cfg->max_body < 1 || cfg->timeout < 1 ||
        cfg->request_timeout < 1 || cfg->header_timeout < 1 || cfg->max_streams < 1) {
        fprintf(stderr, "vdb-server: --max-connections, --max-streams, --max-body, --timeout, "
                        "--request-timeout and --header-timeout must be positive\n");
        return -1;
    }
    if (cfg->max_body > (1ull << 31) - 1) {
        fprintf(stderr, "vdb-server: --max-body is at most 2G-1 (a gRPC message's length is a "
                        "32-bit number; Milvus's own cap is 2 GB too)\n");
        return -1;
    }
    return 0;
}

void srv_config_free(srv_config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].kind == OPT_STR) {
            char **s = (char **)((char *)cfg + opts[i].offset);
            free(*s);
            *s = NULL;
        }
}

int srv_write_workers(const srv_config *cfg)
{
    return cfg->threads > 3 ? cfg->threads / 2 : 2;
}

char *srv_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        srv_log(SRV_LOG_ERROR, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

/* 1 if a URI query parameter of this name holds a credential (azblob's key= and sas=, and
 * any name with key, sas, sig, token, secret, pass, cred or auth in it). */
static int secret_param(const char *name, size_t n)
{
    static const char *const words[] = {"key", "sas", "sig", "token", "secret", "pass", "cred",
                                        "auth"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (!strncasecmp(name + i, words[w], wl))
                return 1;
    }
    return 0;
}

/* uri with its credentials replaced by [redacted]: the user-info before '@' in the authority
 * and the values of secret query parameters. */
static json_t *redacted_uri(const char *uri)
{
    static const char red[] = "[redacted]";
    size_t n = strlen(uri), parts = 2;
    for (const char *s = uri; *s; s++)
        parts += *s == '&';
    /* each replaced part grows by at most the length of red */
    char *out = malloc(n + parts * (sizeof red - 1) + 1), *o = out;
    if (!out)
        return NULL;
    const char *p = uri, *q = strchr(uri, '?');
    const char *end_path = q ? q : uri + n;
    const char *auth = strstr(uri, "://");
    if (auth && auth < end_path) {
        auth += 3;
        const char *slash = memchr(auth, '/', (size_t)(end_path - auth));
        const char *at = NULL;
        for (const char *s = auth; s < (slash ? slash : end_path); s++)
            if (*s == '@')
                at = s;
        if (at) {
            memcpy(o, p, (size_t)(auth - p));
            o += auth - p;
            o = stpcpy(o, red);
            p = at;
        }
    }
    memcpy(o, p, (size_t)(end_path - p));
    o += end_path - p;
    for (p = end_path; *p;) {
        *o++ = *p++; /* '?' or '&' */
        size_t pl = strcspn(p, "&");
        const char *eq = memchr(p, '=', pl);
        if (eq && secret_param(p, (size_t)(eq - p))) {
            memcpy(o, p, (size_t)(eq - p) + 1);
            o = stpcpy(o + (eq - p) + 1, red);
        } else {
            memcpy(o, p, pl);
            o += pl;
        }
        p += pl;
    }
    *o = 0;
    json_t *j = json_string(out);
    free(out);
    return j;
}

json_t *srv_config_json(const srv_config *cfg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < NOPTS; i++) {
        const void *p = (const char *)cfg + opts[i].offset;
        json_t *v;
        if (opts[i].kind == OPT_STR) {
            const char *s = *(char *const *)p;
            if (!s)
                v = json_null();
            else if (opts[i].offset == OFF(token))
                v = json_string("[redacted]");
            else if (strstr(opts[i].name, "-uri"))
                v = redacted_uri(s);
            else
                v = json_string(s);
        } else if (opts[i].kind == OPT_SIZE) {
            v = json_integer((json_int_t) * (const uint64_t *)p);
        } else {
            v = json_integer(*(const int *)p);
        }
        if (!v || json_object_set_new(o, opts[i].name, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

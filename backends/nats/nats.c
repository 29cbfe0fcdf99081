/* The NATS JetStream log backend (nats://host:port/prefix): one file-stored stream per channel.
 *
 * Each channel is its own stream, "<prefix>__<channel>", holding the one subject
 * "<prefix>.<channel>" (both escaped to [A-Za-z0-9-] plus "_XX" hex escapes). So the stream
 * sequence is the position: dense, > 0, strictly increasing, assigned by the server in the
 * publish ack, which makes concurrent appenders need no coordination here.
 *
 *   append   js_Publish with a Nats-Msg-Id (a per-open nonce and a counter). A publish that
 *            timed out or lost its connection is retried with the same id until the call's
 *            timeout: the server's duplicate window (2 min) turns a retry of a stored message
 *            into an ack carrying the original sequence. "No responders" means the stream does
 *            not exist yet: it is created (idempotent) and the publish retried.
 *   read     stream info gives first/last sequence; an ephemeral pull consumer starting at
 *            max(from, first) fetches batches up to the last sequence seen at the start.
 *   truncate purge with "sequence" (removes positions below it), always keeping the last
 *            record: the stream's last sequence then survives a server restart whatever the
 *            server version does with an empty stream (2.9.10 keeps it; we do not rely on it).
 *   drop     delete the stream. Appending again starts over at position 1, like the WAL.
 *   last_pos the stream's last sequence (truncate keeps the last record, so it stays).
 *   poll     an ephemeral pull consumer per subscription, made at the next position: a batch
 *            fetch of what stream info says is there, else a long-poll fetch of one message
 *            that the server answers as soon as one is stored. Stream sequences checked on
 *            every message keep delivery gap-free and duplicate-free whatever the consumer
 *            does; a stream whose creation time changed (or that is gone) was dropped.
 *            read_only changes nothing but refusing writes: any process can follow.
 *
 * Durability is the server's: JetStream acks once the message is written to its file store;
 * the server fsyncs per its own sync_interval, so opt->sync has no effect here. An append that
 * fails (timeout, outage) is not acknowledged, but may still be in the stream (its publish may
 * have reached the server before the ack was lost), as with any log: callers void such writes.
 * Records are limited by the server's max_payload (1 MB by default; up to 64 MB in the server
 * config). Thread-safe: the connection and JetStream context are; nothing here is shared
 * mutable state but an atomic counter. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "vdb/sys/log_backend.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_NAME 200          /* an escaped prefix or channel */
#define MAX_STREAM 240        /* a stream name: the server makes it a folder name (NAME_MAX) */
#define READ_BATCH 256        /* records per pull request */
#define READ_BATCH_BYTES (32 << 20)
#define CONSUMER_IDLE_MS 30000LL  /* the server deletes an ephemeral consumer idle this long */

typedef struct nlog {
    natsConnection *nc;
    jsCtx *js;
    char server[256];     /* nats://host:port, for messages (credentials stripped) */
    char prefix[MAX_NAME];  /* escaped */
    int64_t timeout_ms;
    bool read_only;       /* opt->read_only: append, truncate and drop are refused */
    uint64_t nonce;
    atomic_uint_fast64_t counter;
} nlog;

/* A channel's stream and subject. */
typedef struct names {
    char stream[2 * MAX_NAME + 8];
    char subject[2 * MAX_NAME + 8];
} names;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps before the next attempt (10, 20, 40 .. 250 ms, never past the deadline); false when
 * the deadline has passed. */
static bool backoff(int64_t deadline, int *attempt)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return false;
    int64_t ms = 10LL << (*attempt < 5 ? *attempt : 5);
    if (ms > 250)
        ms = 250;
    if (ms > left)
        ms = left;
    (*attempt)++;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return deadline - now_ms() > 0;
}

/* Keeps [A-Za-z0-9-]; anything else becomes "_XX" (hex). The result never contains "__", '.',
 * '*', '>', slashes or spaces, so it is a valid stream name and subject token, and
 * "<a>__<b>" is unambiguous. */
static bool escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-';
        if (n + (keep ? 1 : 3) >= cap)
            return false;
        if (keep) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '_';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = 0;
    return true;
}

static vdb_status channel_names(const nlog *l, const char *channel, names *nm)
{
    char esc[MAX_NAME];
    if (!channel || !*channel)
        return vdb_set_errmsg(VDB_EINVAL, "nats: empty channel name");
    if (!escape(channel, esc, sizeof esc))
        return vdb_set_errmsg(VDB_EINVAL, "nats: channel name '%.64s...' is too long", channel);
    snprintf(nm->stream, sizeof nm->stream, "%s__%s", l->prefix, esc);
    snprintf(nm->subject, sizeof nm->subject, "%s.%s", l->prefix, esc);
    if (strlen(nm->stream) > MAX_STREAM)
        return vdb_set_errmsg(VDB_EINVAL, "nats: stream name %s for channel %s is too long "
                              "(over %d characters; the server makes it a folder name): "
                              "shorten the channel or the URI's prefix", nm->stream, channel,
                              MAX_STREAM);
    return VDB_OK;
}

/* The words for a failed NATS call: the library's detail when it has one. */
static const char *why(natsStatus s, char *buf, size_t cap)
{
    natsStatus last = NATS_OK;
    const char *detail = nats_GetLastError(&last);
    if (detail && *detail && last == s) {
        if (detail[0] == '(') { /* drop the client's "(file.c:123): " source location */
            const char *end = strstr(detail, "): ");
            if (end)
                detail = end + 3;
        }
        snprintf(buf, cap, "%s", detail);
    } else
        snprintf(buf, cap, "%s", natsStatus_GetText(s));
    return buf;
}

/* Worth another attempt within the deadline: the server is away, restarting, or slow. */
static bool transient(natsStatus s, jsErrCode jerr)
{
    switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS: /* JetStream not (yet) serving its API after a restart */
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_INSUFFICIENT_BUFFER: /* reconnecting, with the small reconnect buffer full */
        return true;
    default:
        return jerr == JSClusterNotAvailErr;
    }
}

static vdb_status fail(const nlog *l, const char *what, const char *name, natsStatus s,
                       jsErrCode jerr, int64_t started)
{
    char buf[512];
    why(s, buf, sizeof buf);
    if (transient(s, jerr)) {
        natsConnStatus cs = natsConnection_Status(l->nc);
        const char *hint = cs != NATS_CONN_STATUS_CONNECTED
                               ? " (connection to the server lost; reconnecting)"
                           : s == NATS_NO_RESPONDERS
                               ? " (is JetStream up? start nats-server with -js)"
                               : "";
        return vdb_set_errmsg(VDB_EIO, "nats: %s %s on %s: gave up after %lld ms: %s%s", what,
                              name, l->server, (long long)(now_ms() - started), buf, hint);
    }
    if (jerr)
        return vdb_set_errmsg(VDB_EIO, "nats: %s %s on %s: %s (JetStream error %d)", what, name,
                              l->server, buf, (int)jerr);
    return vdb_set_errmsg(VDB_EIO, "nats: %s %s on %s: %s", what, name, l->server, buf);
}

static void js_opts(jsOptions *jo, int64_t deadline)
{
    jsOptions_Init(jo);
    int64_t left = deadline - now_ms();
    jo->Wait = left > 1 ? left : 1;
}

/* Creates the channel's stream; an identical existing one is fine (the server says OK). */
static natsStatus add_stream(nlog *l, const names *nm, int64_t deadline, jsErrCode *jerr)
{
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = {nm->subject};
    cfg.Name = nm->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardOld;
    cfg.Replicas = 1;
    jsOptions jo;
    js_opts(&jo, deadline);
    *jerr = 0;
    return js_AddStream(NULL, l->js, &cfg, &jo, jerr);
}

/* What stream info says of a channel's stream. */
typedef struct sstate {
    bool found;       /* false: the stream does not exist (the rest is 0) */
    uint64_t first, last, msgs;
    int64_t created;  /* when the stream was made (ns since the epoch): tells a re-made one */
} sstate;

/* Stream info with retries until deadline; found false (and VDB_OK) when the stream does not
 * exist. */
static vdb_status stream_state(nlog *l, const names *nm, int64_t deadline, sstate *ss)
{
    int64_t started = now_ms();
    int attempt = 0;
    for (;;) {
        jsOptions jo;
        js_opts(&jo, deadline);
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetStreamInfo(&si, l->js, nm->stream, &jo, &jerr);
        if (s == NATS_OK && si) {
            *ss = (sstate){.found = true, .first = si->State.FirstSeq,
                           .last = si->State.LastSeq, .msgs = si->State.Msgs,
                           .created = si->Created};
            jsStreamInfo_Destroy(si);
            return VDB_OK;
        }
        if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr || (s == NATS_OK && !si)) {
            *ss = (sstate){.found = false};
            return VDB_OK;
        }
        if (!transient(s, jerr) || !backoff(deadline, &attempt))
            return fail(l, "stream info for", nm->stream, s, jerr, started);
    }
}

/* ---- open / close ------------------------------------------------------------------------ */

static uint64_t make_nonce(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
            v = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return v ^ ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 32);
}

static void nats_close(void *log)
{
    nlog *l = log;
    if (!l)
        return;
    if (l->js)
        jsCtx_Destroy(l->js);
    if (l->nc)
        natsConnection_Destroy(l->nc);
    free(l);
}

static vdb_status nats_open(const char *uri, const vdb_backend_options *opt, void **out)
{
    *out = NULL;
    if (!uri || strncmp(uri, "nats://", 7) != 0)
        return vdb_set_errmsg(VDB_EINVAL, "nats: URI '%s' does not start with nats://",
                              uri ? uri : "(null)");
    const char *auth = uri + 7;
    const char *slash = strchr(auth, '/');
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    const char *prefix = slash && slash[1] ? slash + 1 : "vdb";
    if (alen == 0 || alen >= 200)
        return vdb_set_errmsg(VDB_EINVAL, "nats: URI '%s' has no host[:port] (expected "
                              "nats://host:port/stream-prefix)", uri);
    nlog *l = calloc(1, sizeof *l);
    if (!l)
        return vdb_set_errmsg(VDB_ENOMEM, "nats: out of memory");
    l->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    l->read_only = opt && opt->read_only;
    l->nonce = make_nonce();
    atomic_init(&l->counter, 0);
    if (!escape(prefix, l->prefix, sizeof l->prefix / 2)) {
        free(l);
        return vdb_set_errmsg(VDB_EINVAL, "nats: stream prefix in '%s' is too long", uri);
    }
    char url[256];
    snprintf(url, sizeof url, "nats://%.*s", (int)alen, auth);
    const char *at = memchr(auth, '@', alen); /* user:pass@host: keep secrets out of messages */
    snprintf(l->server, sizeof l->server, "nats://%.*s", at ? (int)(alen - (size_t)(at + 1 - auth))
                                                            : (int)alen, at ? at + 1 : auth);

    vdb_status st = VDB_OK;
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    if (s == NATS_OK)
        s = natsOptions_SetURL(no, url);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, "libvdb");
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(no, l->timeout_ms);
    /* After the first connect, reconnect forever and quickly; each call still gives up at its
     * own timeout. Requests in flight fail at once on a disconnect (then retried), and the
     * reconnect buffer is tiny so a publish made while away fails instead of being sent
     * later, long after its call reported failure. */
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(no, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, 100);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(no, 50, 200);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(no, 1);
    if (s == NATS_OK)
        s = natsOptions_SetFailRequestsOnDisconnect(no, true);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(no, 5000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(no, 3);
    if (s != NATS_OK) {
        char buf[256];
        st = vdb_set_errmsg(VDB_EINVAL, "nats: options for %s: %s", l->server,
                            why(s, buf, sizeof buf));
        goto fail;
    }
    s = natsConnection_Connect(&l->nc, no);
    if (s != NATS_OK) {
        char buf[256];
        st = vdb_set_errmsg(VDB_EIO, "nats: cannot connect to %s: %s", l->server,
                            why(s, buf, sizeof buf));
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = l->timeout_ms;
    s = natsConnection_JetStream(&l->js, l->nc, &jo);
    if (s != NATS_OK) {
        char buf[256];
        st = vdb_set_errmsg(VDB_EIO, "nats: JetStream context on %s: %s", l->server,
                            why(s, buf, sizeof buf));
        goto fail;
    }
    /* Fail at open, in words, when the server runs without JetStream. */
    jsAccountInfo *ai = NULL;
    jsErrCode jerr = 0;
    s = js_GetAccountInfo(&ai, l->js, &jo, &jerr);
    if (s != NATS_OK) {
        char buf[256];
        why(s, buf, sizeof buf);
        if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr)
            st = vdb_set_errmsg(VDB_EIO, "nats: JetStream is not enabled on %s (%s): start "
                                "nats-server with -js", l->server, buf);
        else
            st = vdb_set_errmsg(VDB_EIO, "nats: JetStream account info from %s: %s", l->server,
                                buf);
        goto fail;
    }
    jsAccountInfo_Destroy(ai);
    natsOptions_Destroy(no);
    *out = l;
    return VDB_OK;
fail:
    natsOptions_Destroy(no);
    nats_close(l);
    return st;
}

/* ---- append ------------------------------------------------------------------------------ */

static vdb_status refuse_read_only(const nlog *l, const char *what, const char *channel)
{
    return vdb_set_errmsg(VDB_EINVAL, "nats: %s of %s on %s refused: this instance was opened "
                          "read_only", what, channel, l->server);
}

static vdb_status nats_append(void *log, const char *channel, const void *rec, size_t len,
                              uint64_t *pos)
{
    nlog *l = log;
    names nm;
    vdb_status st = channel_names(l, channel, &nm);
    if (st != VDB_OK)
        return st;
    if (l->read_only)
        return refuse_read_only(l, "append", channel);
    if ((!rec && len) || !pos)
        return vdb_set_errmsg(VDB_EINVAL, "nats: append to %s: NULL record or position",
                              channel);
    /* the client refuses data + headers over the limit (NATS_MAX_PAYLOAD, below); this
     * catches the plainly too big before any work */
    int64_t maxp = natsConnection_GetMaxPayload(l->nc);
    if (len > INT_MAX || (maxp > 0 && (int64_t)len > maxp))
        return vdb_set_errmsg(VDB_EINVAL, "nats: record of %zu bytes for channel %s is over "
                              "the max_payload of %lld bytes of %s (raise max_payload in "
                              "nats-server's config, e.g. 'max_payload: 8MB'; at most 64MB)",
                              len, channel, (long long)maxp, l->server);
    char id[48];
    snprintf(id, sizeof id, "%016" PRIx64 "-%" PRIuFAST64, l->nonce,
             atomic_fetch_add(&l->counter, 1) + 1);
    int64_t started = now_ms(), deadline = started + l->timeout_ms;
    int attempt = 0;
    for (;;) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        int64_t left = deadline - now_ms();
        po.MaxWait = left > 1 ? left : 1;
        po.MsgId = id;
        po.ExpectStream = nm.stream;
        jsPubAck *ack = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_Publish(&ack, l->js, nm.subject, rec, (int)len, &po, &jerr);
        if (s == NATS_OK) {
            *pos = ack->Sequence;
            jsPubAck_Destroy(ack);
            return VDB_OK;
        }
        if (s == NATS_MAX_PAYLOAD || jerr == JSStreamMessageExceedsMaximumErr)
            return vdb_set_errmsg(VDB_EINVAL, "nats: record of %zu bytes for %s is over the "
                                  "max_payload of %s (raise max_payload in nats-server's "
                                  "config, e.g. 'max_payload: 8MB'; at most 64MB)", len,
                                  nm.subject, l->server);
        if (s == NATS_NO_RESPONDERS) {
            /* no stream listens on the subject: create the channel's stream, publish again */
            jsErrCode aerr = 0;
            natsStatus as = add_stream(l, &nm, deadline, &aerr);
            if (as == NATS_OK)
                continue;
            if (!transient(as, aerr))
                return fail(l, "create stream", nm.stream, as, aerr, started);
            s = as;
            jerr = aerr;
        }
        if (!transient(s, jerr) || !backoff(deadline, &attempt))
            return fail(l, "publish to", nm.subject, s, jerr, started);
    }
}

/* ---- read -------------------------------------------------------------------------------- */

static natsStatus subscribe_from(nlog *l, const names *nm, uint64_t start, int64_t deadline,
                                 natsSubscription **sub, jsErrCode *jerr)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = nm->stream;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start;
    so.Config.AckPolicy = js_AckNone;
    so.Config.MaxDeliver = 1;
    so.Config.InactiveThreshold = CONSUMER_IDLE_MS * 1000000LL; /* a crashed reader's goes */
    jsOptions jo;
    js_opts(&jo, deadline);
    *jerr = 0;
    return js_PullSubscribe(sub, l->js, nm->subject, NULL, &jo, &so, jerr);
}

/* Reads with an ephemeral pull consumer from `from` up to the last sequence at the start. Every
 * request (stream info, consumer creation, one fetch) has the timeout; a failed one is retried
 * from the next unread position until the timeout has passed without progress. */
static vdb_status nats_read(void *log, const char *channel, uint64_t from, vdb_log_read_fn fn,
                            void *arg)
{
    nlog *l = log;
    names nm;
    vdb_status st = channel_names(l, channel, &nm);
    if (st != VDB_OK)
        return st;
    if (!fn)
        return vdb_set_errmsg(VDB_EINVAL, "nats: read of %s: NULL callback", channel);
    sstate ss;
    if ((st = stream_state(l, &nm, now_ms() + l->timeout_ms, &ss)) != VDB_OK)
        return st;
    if (from < 1)
        from = 1;
    uint64_t last = ss.last;
    if (!ss.found || ss.msgs == 0 || from > last)
        return VDB_OK;
    uint64_t next = from > ss.first ? from : ss.first;
    int64_t maxp = natsConnection_GetMaxPayload(l->nc);
    int64_t max_bytes = READ_BATCH_BYTES > 2 * maxp ? READ_BATCH_BYTES : 2 * maxp;
    natsSubscription *sub = NULL;
    int64_t started = now_ms(), deadline = started + l->timeout_ms; /* moves on with progress */
    int attempt = 0;
    bool stop = false;
    while (!stop && next <= last) {
        natsStatus s;
        jsErrCode jerr = 0;
        const char *what = "pull consumer on";
        natsMsgList list = {0};
        if (!sub) {
            s = subscribe_from(l, &nm, next, deadline, &sub, &jerr);
        } else {
            jsFetchRequest fr;
            jsFetchRequest_Init(&fr);
            uint64_t want = last - next + 1;
            fr.Batch = want < READ_BATCH ? (int)want : READ_BATCH;
            fr.MaxBytes = max_bytes;
            int64_t left = deadline - now_ms();
            fr.Expires = (left > 1 ? left : 1) * 1000000LL;
            s = natsSubscription_FetchRequest(&list, sub, &fr);
            what = "fetch from";
            if (s == NATS_OK && list.Count == 0)
                s = NATS_TIMEOUT;
        }
        if (s != NATS_OK) {
            natsMsgList_Destroy(&list);
            if (sub)
                natsSubscription_Destroy(sub); /* the server drops the consumer when idle */
            sub = NULL;
            /* A concurrent truncate or drop may have taken the rest: then the read is done. */
            sstate s2;
            if ((st = stream_state(l, &nm, deadline, &s2)) != VDB_OK)
                break;
            if (!s2.found || s2.msgs == 0 || s2.last < next)
                break;
            if (s2.first > next)
                next = s2.first;
            if (!transient(s, jerr) || !backoff(deadline, &attempt)) {
                st = fail(l, what, nm.stream, s, jerr, started);
                break;
            }
            continue;
        }
        if (!list.Count)
            continue; /* a new consumer: fetch next */
        for (int i = 0; i < list.Count && !stop; i++) {
            jsMsgMetaData *meta = NULL;
            if (natsMsg_GetMetaData(&meta, list.Msgs[i]) != NATS_OK || !meta) {
                st = vdb_set_errmsg(VDB_ECORRUPT, "nats: message from %s without JetStream "
                                    "metadata", nm.stream);
                stop = true;
                break;
            }
            uint64_t seq = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
            if (seq < next)
                continue; /* never go backwards */
            if (seq > last) {
                stop = true;
                break;
            }
            next = seq + 1;
            if (fn(arg, seq, natsMsg_GetData(list.Msgs[i]),
                   (size_t)natsMsg_GetDataLength(list.Msgs[i])))
                stop = true;
        }
        natsMsgList_Destroy(&list);
        started = now_ms();
        deadline = started + l->timeout_ms;
        attempt = 0;
    }
    if (sub) {
        natsSubscription_Unsubscribe(sub); /* deletes the ephemeral consumer */
        natsSubscription_Destroy(sub);
    }
    return st;
}

/* ---- truncate / drop --------------------------------------------------------------------- */

static vdb_status nats_truncate(void *log, const char *channel, uint64_t upto)
{
    nlog *l = log;
    names nm;
    vdb_status st = channel_names(l, channel, &nm);
    if (st == VDB_OK && l->read_only)
        return refuse_read_only(l, "truncate", channel);
    if (st != VDB_OK || upto <= 1)
        return st;
    sstate ss;
    if ((st = stream_state(l, &nm, now_ms() + l->timeout_ms, &ss)) != VDB_OK)
        return st;
    if (!ss.found || ss.msgs == 0)
        return VDB_OK;
    uint64_t cut = upto < ss.last ? upto : ss.last; /* keep the last record: see the top */
    if (cut <= ss.first)
        return VDB_OK;
    int64_t started = now_ms(), deadline = started + l->timeout_ms;
    int attempt = 0;
    for (;;) {
        jsOptions jo;
        js_opts(&jo, deadline);
        jo.Stream.Purge.Sequence = cut;
        jsErrCode jerr = 0;
        natsStatus s = js_PurgeStream(l->js, nm.stream, &jo, &jerr);
        if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
            return VDB_OK;
        if (!transient(s, jerr) || !backoff(deadline, &attempt))
            return fail(l, "purge", nm.stream, s, jerr, started);
    }
}

static vdb_status nats_drop(void *log, const char *channel)
{
    nlog *l = log;
    names nm;
    vdb_status st = channel_names(l, channel, &nm);
    if (st != VDB_OK)
        return st;
    if (l->read_only)
        return refuse_read_only(l, "drop", channel);
    int64_t started = now_ms(), deadline = started + l->timeout_ms;
    int attempt = 0;
    for (;;) {
        jsOptions jo;
        js_opts(&jo, deadline);
        jsErrCode jerr = 0;
        natsStatus s = js_DeleteStream(l->js, nm.stream, &jo, &jerr);
        if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
            return VDB_OK;
        if (!transient(s, jerr) || !backoff(deadline, &attempt))
            return fail(l, "delete stream", nm.stream, s, jerr, started);
    }
}

/* ---- last position and subscriptions ------------------------------------------------------ */

static vdb_status nats_last_pos(void *log, const char *channel, uint64_t *pos)
{
    nlog *l = log;
    names nm;
    vdb_status st = channel_names(l, channel, &nm);
    if (st != VDB_OK)
        return st;
    if (!pos)
        return vdb_set_errmsg(VDB_EINVAL, "nats: last_pos of %s: NULL pos", channel);
    sstate ss;
    if ((st = stream_state(l, &nm, now_ms() + l->timeout_ms, &ss)) == VDB_OK)
        *pos = ss.last; /* 0 when there is no stream */
    return st;
}

typedef struct nsub {
    nlog *l;
    names nm;
    char *channel;
    uint64_t next;           /* the next position to hand out */
    int64_t created;         /* the stream's creation time once seen (0: not yet) */
    natsSubscription *sub;   /* the pull consumer, made at next; NULL until needed */
    int64_t used_ms;         /* when it last fetched */
    natsMsgList pend;        /* fetched and not handed out yet (fn said stop) */
    int pend_i;
} nsub;

static void drop_consumer(nsub *s)
{
    natsMsgList_Destroy(&s->pend);
    s->pend = (natsMsgList){0};
    s->pend_i = 0;
    if (s->sub) {
        natsSubscription_Unsubscribe(s->sub); /* deletes the ephemeral consumer */
        natsSubscription_Destroy(s->sub);
    }
    s->sub = NULL;
}

static vdb_status nats_subscribe(void *log, const char *channel, uint64_t from, void **out)
{
    nlog *l = log;
    nsub *s = calloc(1, sizeof *s);
    if (!s)
        return vdb_set_errmsg(VDB_ENOMEM, "nats: out of memory");
    vdb_status st = channel_names(l, channel, &s->nm);
    if (st == VDB_OK && !(s->channel = strdup(channel)))
        st = vdb_set_errmsg(VDB_ENOMEM, "nats: out of memory");
    if (st != VDB_OK) {
        free(s);
        return st;
    }
    s->l = l;
    s->next = from ? from : 1;
    *out = s;
    return VDB_OK;
}

static void nats_unsubscribe(void *sub)
{
    nsub *s = sub;
    if (!s)
        return;
    drop_consumer(s);
    free(s->channel);
    free(s);
}

typedef enum { HAND_OK, HAND_RESYNC } hand_result;

/* Hands out the pending messages in order: duplicates (below next) are skipped; a message past
 * next is taken only if everything between was truncated away, else the consumer is out of step
 * (a request that expired while the server sent) and is made again at next. */
static vdb_status hand_out(nsub *s, vdb_log_read_fn fn, void *arg, size_t *count,
                           hand_result *res)
{
    *res = HAND_OK;
    while (s->pend_i < s->pend.Count) {
        natsMsg *m = s->pend.Msgs[s->pend_i];
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) != NATS_OK || !meta)
            return vdb_set_errmsg(VDB_ECORRUPT, "nats: message from %s without JetStream "
                                  "metadata", s->nm.stream);
        uint64_t seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        if (seq < s->next) {
            s->pend_i++;
            continue;
        }
        if (seq > s->next) {
            sstate ss;
            vdb_status st = stream_state(s->l, &s->nm, now_ms() + s->l->timeout_ms, &ss);
            if (st != VDB_OK)
                return st;
            if (!ss.found || ss.first < seq) {
                *res = HAND_RESYNC;
                drop_consumer(s);
                return VDB_OK;
            }
        }
        s->pend_i++;
        s->next = seq + 1;
        (*count)++;
        if (fn(arg, seq, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m)))
            break;
    }
    if (s->pend_i >= s->pend.Count) {
        natsMsgList_Destroy(&s->pend);
        s->pend = (natsMsgList){0};
        s->pend_i = 0;
    }
    return VDB_OK;
}

/* One fetch into s->pend: up to batch messages, waiting up to wait_ms for the first. */
static natsStatus fetch(nsub *s, int batch, int64_t wait_ms)
{
    int64_t maxp = natsConnection_GetMaxPayload(s->l->nc);
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = batch;
    fr.MaxBytes = READ_BATCH_BYTES > 2 * maxp ? READ_BATCH_BYTES : 2 * maxp;
    fr.Expires = (wait_ms > 1 ? wait_ms : 1) * 1000000LL;
    natsStatus st = natsSubscription_FetchRequest(&s->pend, s->sub, &fr);
    if (st == NATS_OK && s->pend.Count == 0)
        st = NATS_TIMEOUT;
    if (st != NATS_OK) {
        natsMsgList_Destroy(&s->pend);
        s->pend = (natsMsgList){0};
    }
    s->pend_i = 0;
    return st;
}

static vdb_status sub_fail(nsub *s, vdb_status st, const char *what)
{
    return vdb_set_errmsg(st, "nats: channel %s (stream %s on %s): %s", s->channel,
                          s->nm.stream, s->l->server, what);
}

/* Each poll asks the stream how far it goes. Records there: fetch them in a batch (they come
 * at once). None: one long-poll request for a single message, which the server answers as soon
 * as one is stored (in slices of at most LONG_POLL_MS, so the ephemeral consumer never looks
 * idle to the server). Status replies of requests that expired client-side can reach a later
 * fetch and end it early or empty-handed: every such case just goes round the loop again. */
#define LONG_POLL_MS 5000

static vdb_status nats_poll(void *sub, uint64_t timeout_ms, vdb_log_read_fn fn, void *arg)
{
    nsub *s = sub;
    if (!s || !fn)
        return vdb_set_errmsg(VDB_EINVAL, "nats: poll: NULL subscription or callback");
    nlog *l = s->l;
    int64_t start = now_ms();
    int64_t deadline = timeout_ms >= (uint64_t)(INT64_MAX - start) ? INT64_MAX
                                                                  : start + (int64_t)timeout_ms;
    size_t count = 0;
    hand_result hr;
    vdb_status st = hand_out(s, fn, arg, &count, &hr);
    if (st != VDB_OK || count > 0)
        return st;
    int attempt = 0;
    for (;;) {
        sstate ss;
        if ((st = stream_state(l, &s->nm, now_ms() + l->timeout_ms, &ss)) != VDB_OK)
            return st;
        if (s->created && (!ss.found || ss.created != s->created))
            return sub_fail(s, VDB_ENOTFOUND, "the channel was dropped while subscribed");
        if (ss.found)
            s->created = ss.created;
        int64_t left = deadline - now_ms();
        bool there = ss.found && ss.msgs > 0 && ss.last >= s->next;
        if (!there && left <= 0)
            return vdb_set_errmsg(VDB_ETIMEDOUT, "nats: channel %s: no record at or after "
                                  "position %llu within %llu ms", s->channel,
                                  (unsigned long long)s->next, (unsigned long long)timeout_ms);
        if (!ss.found) { /* no stream yet: look again in a while */
            int64_t ms = 20LL << (attempt < 4 ? attempt : 4);
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (ms < left ? ms : left) * 1000000L};
            attempt++;
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            continue;
        }
        /* The server removes a consumer idle for CONSUMER_IDLE_MS: one that may be gone is made
         * again rather than waited on. */
        if (s->sub && now_ms() - s->used_ms > CONSUMER_IDLE_MS / 2)
            drop_consumer(s);
        if (!s->sub) {
            jsErrCode jerr = 0;
            natsStatus ns = subscribe_from(l, &s->nm, s->next, now_ms() + l->timeout_ms,
                                           &s->sub, &jerr);
            if (ns != NATS_OK) {
                s->sub = NULL;
                if (!transient(ns, jerr) || !backoff(deadline > now_ms() + l->timeout_ms
                                                         ? deadline
                                                         : now_ms() + l->timeout_ms,
                                                     &attempt))
                    return fail(l, "pull consumer on", s->nm.stream, ns, jerr, start);
                continue;
            }
        }
        natsStatus ns;
        s->used_ms = now_ms();
        if (there) {
            /* what is there from next on (records below first were truncated): the server
             * holds a request for more until it expires */
            uint64_t want = ss.last - (ss.first > s->next ? ss.first : s->next) + 1;
            ns = fetch(s, want < READ_BATCH ? (int)want : READ_BATCH, l->timeout_ms);
        } else {
            ns = fetch(s, 1, left < LONG_POLL_MS ? left : LONG_POLL_MS);
        }
        if (ns == NATS_OK) {
            if ((st = hand_out(s, fn, arg, &count, &hr)) != VDB_OK || count > 0)
                return st;
            continue; /* duplicates only, or out of step (the consumer is made again) */
        }
        if (ns == NATS_TIMEOUT && !there)
            continue; /* nothing came in this slice */
        /* Records are there but none came (the consumer went idle at the server and was
         * removed, or the server restarts): make the consumer again, within the timeout. */
        drop_consumer(s);
        if (!backoff(now_ms() + l->timeout_ms, &attempt) || attempt > 8)
            return fail(l, "fetch from", s->nm.stream, ns, 0, start);
    }
}

const vdb_log_backend vdb_nats_log_backend = {
    .version = VDB_LOG_BACKEND_VERSION,
    .scheme = "nats",
    .open = nats_open,
    .close = nats_close,
    .append = nats_append,
    .read = nats_read,
    .truncate = nats_truncate,
    .drop = nats_drop,
    .last_pos = nats_last_pos,
    .subscribe = nats_subscribe,
    .poll = nats_poll,
    .unsubscribe = nats_unsubscribe,
};

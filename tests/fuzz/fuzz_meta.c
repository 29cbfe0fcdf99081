/* libFuzzer target for the local meta store (lib/storage/meta_local.c): the input becomes the
 * files of a meta folder — the two snapshots, the two log copies of generations 1 and 2,
 * meta.hwm and the format-1 files — and the store is opened as vdb_open does. The open must
 * give VDB_OK or VDB_ECORRUPT / VDB_EVERSION with a message; an open that succeeds must then
 * scan, take a transaction, close, and open again with the same keys (what it repaired stays
 * repaired).
 *
 * Input: one flags byte, then chunks of (u8 file, u16 length, bytes); file picks one of the
 * names below (mod their count), a later chunk for the same file appends to it; the seeds
 * (fuzz_seeds) are the files of a real meta folder in that form. Flags bit 0:
 * recompute the checksums (snapshot tail, log header, every log record's header and payload
 * crc, meta.hwm) so the fuzzer reaches the fields behind them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "storage/storage.h"

/* Files 2..5 are the logs of generation G and G+1, G the generation in the first
 * snapshot's bytes (1 without one), so logs taken from a real folder keep their names. */
static const char *const names[] = {"meta-a.snap", "meta-b.snap", "meta-%llu-a.log",
                                    "meta-%llu-b.log", "meta-%llu-a.log", "meta-%llu-b.log",
                                    "meta.hwm", "meta.snap", "meta-1.log"};
#define NFILES (sizeof names / sizeof names[0])
#define LOG_HEADER 32u
#define REC_HEADER 20u

static char dir[256];

static void fix_log(uint8_t *p, size_t n)
{
    if (n < LOG_HEADER)
        return;
    vdb_put_u32(p + 28, vdb_crc32c(0, p, 28));
    for (size_t off = LOG_HEADER; off + REC_HEADER <= n;) {
        uint32_t len = vdb_get_u32(p + off);
        if (len > n - off - REC_HEADER)
            break;
        uint32_t hcrc = vdb_crc32c(0, p + off, 12);
        vdb_put_u32(p + off + 12, hcrc);
        vdb_put_u32(p + off + 16, vdb_crc32c(hcrc, p + off + REC_HEADER, len));
        off += REC_HEADER + len;
    }
}

static void fix(size_t file, uint8_t *p, size_t n)
{
    if (file == 0 || file == 1 || file == 6 || file == 7)
        fuzz_fix_tail_crc(p, n); /* snapshots and meta.hwm end in the crc of what precedes */
    else if (file >= 2 && file <= 5)
        fix_log(p, n);
}

static int count_key(void *arg, const char *key, const void *val, size_t len)
{
    (void)key, (void)val, (void)len;
    (*(size_t *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/fuzz_meta.%ld", base, (long)getpid());
        mkdir(dir, 0755);
    }
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    uint8_t *buf[NFILES] = {0};
    size_t len[NFILES] = {0};
    for (size_t off = 1; off + 3 <= size;) {
        size_t f = data[off] % NFILES;
        size_t n = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (n > size - off)
            n = size - off;
        uint8_t *grown = realloc(buf[f], len[f] + n + 1);
        if (!grown)
            abort();
        buf[f] = grown;
        memcpy(buf[f] + len[f], data + off, n);
        len[f] += n;
        off += n;
    }
    char path[512], name[64];
    unsigned long long gen = buf[0] && len[0] >= 16 ? vdb_get_u64(buf[0] + 8) : 1;
    if (gen == 0 || gen > 1000000)
        gen = 1;
    char made[NFILES][64];
    for (size_t f = 0; f < NFILES; f++) {
        snprintf(name, sizeof name, names[f], f >= 4 && f <= 5 ? gen + 1 : gen);
        snprintf(made[f], sizeof made[f], "%s", name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unlink(path);
        if (!buf[f])
            continue;
        if (flags & 1)
            fix(f, buf[f], len[f]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf[f], len[f]) != (ssize_t)len[f])
            abort();
        close(fd);
    }
    /* what an earlier run's rewrite left (other generations, the lock, temporary files) */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        bool ours = false;
        for (size_t f = 0; f < NFILES; f++)
            ours |= buf[f] && !strcmp(e->d_name, made[f]);
        if (!ours && e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    for (size_t f = 0; f < NFILES; f++)
        free(buf[f]);

    char uri[300];
    snprintf(uri, sizeof uri, "local://%s", dir);
    vdb_backend_options opt = {.sync = VDB_SYNC_OFF, .timeout_ms = 1000};
    vdb_meta_store m;
    vdb_status st = vdb_meta_store_open(uri, &opt, &m);
    fuzz_check_status("fuzz_meta (open)", st);
    if (st != VDB_OK)
        return 0;
    size_t keys = 0;
    st = m.be->scan(m.h, "", count_key, &keys);
    if (st != VDB_OK) {
        fprintf(stderr, "fuzz_meta: scan of an open store: %s\n", vdb_err_get());
        __builtin_trap();
    }
    vdb_meta_op op = {.kind = VDB_META_PUT, .key = "fuzz/key", .val = "v", .len = 1};
    size_t had = 0;
    void *old = NULL;
    size_t old_len = 0;
    if (m.be->get(m.h, "fuzz/key", &old, &old_len) == VDB_OK)
        had = 1;
    vdb_free(old);
    vdb_err_clear();
    st = m.be->txn(m.h, &op, 1);
    if (st != VDB_OK) {
        fprintf(stderr, "fuzz_meta: a transaction on an open store: %s\n", vdb_err_get());
        __builtin_trap();
    }
    vdb_meta_store_close(&m);
    st = vdb_meta_store_open(uri, &opt, &m);
    if (st != VDB_OK) {
        fprintf(stderr, "fuzz_meta: reopen after a clean close: %s\n", vdb_err_get());
        __builtin_trap();
    }
    size_t again = 0;
    st = m.be->scan(m.h, "", count_key, &again);
    if (st != VDB_OK || again != keys + 1 - had) {
        fprintf(stderr, "fuzz_meta: %zu keys before the close (+1 put), %zu after\n", keys,
                again);
        __builtin_trap();
    }
    vdb_meta_store_close(&m);
    return 0;
}

/* libFuzzer target for the local WAL's segment files (lib/storage/wal_seg.c, wal.c): the bytes
 * become a channel's segment file, walked frame by frame as recovery does (a bad frame with a
 * valid one after it is corruption, else a torn tail), and, for half the inputs, through the
 * whole backend: wal_open, wal_read (which cuts a torn tail), then an append after it. Every
 * record read is decoded as a log record with its columns.
 *
 * Input: one flags byte, then the file. Flags bit 0: recompute each frame's crc32c (so the
 * fuzzer reaches the record bytes); bit 1: also renumber the frames 1, 2, ...; bit 2: the
 * whole backend instead of the reader alone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log/log.h"
#include "segment/segment.h"
#include "storage/wal_internal.h"

static void decode_record(const void *rec, size_t len)
{
    vdb_rec_header h;
    const void *body;
    size_t blen;
    vdb_status st = vdb_rec_decode(rec, len, &h, &body, &blen);
    fuzz_check_status("fuzz_wal (record)", st);
    if (st != VDB_OK || (h.type != VDB_REC_INSERT && h.type != VDB_REC_DELETE))
        return;
    vdb_rd r = vdb_rd_init(body, blen);
    uint32_t n = vdb_rd_u32(&r);
    for (uint32_t i = 0; !r.err && i < n && i < 64; i++) {
        vdb_column c;
        st = vdb_column_decode(&r, &c);
        fuzz_check_status("fuzz_wal (column)", st);
        if (st != VDB_OK)
            return;
        vdb_column_free(&c);
    }
}

static uint32_t frame_crc(uint64_t pos, const uint8_t *body, size_t n)
{
    uint8_t le[8];
    vdb_put_u64(le, pos);
    return vdb_crc32c(vdb_crc32c(0, le, 8), body, n);
}

static void fix_frames(uint8_t *p, size_t size, bool renumber)
{
    uint64_t pos = 1;
    for (size_t off = 0; off + WAL_FRAME_HEADER <= size;) {
        uint32_t n = vdb_get_u32(p + off);
        if (n > size - off - WAL_FRAME_HEADER)
            break;
        if (renumber)
            vdb_put_u64(p + off + 8, pos++);
        vdb_put_u32(p + off + 4,
                    frame_crc(vdb_get_u64(p + off + 8), p + off + WAL_FRAME_HEADER, n));
        off += WAL_FRAME_HEADER + n;
    }
}

static void reader_only(const uint8_t *p, size_t size)
{
    int fd = memfd_create("fuzz_wal", MFD_CLOEXEC);
    if (fd < 0 || (size && write(fd, p, size) != (ssize_t)size))
        abort();
    wal_seg_reader r = {0};
    wal_seg_reader_reset(&r, fd, "fuzz.log", size, 1);
    for (uint64_t want = 1;; want++) {
        wal_frame_kind kind;
        uint64_t pos;
        const void *rec;
        size_t len;
        const char *why;
        if (wal_seg_next(&r, &kind, &pos, &rec, &len, &why) != VDB_OK)
            __builtin_trap(); /* a memfd does not fail to read */
        if (kind == WAL_FRAME_END)
            break;
        if (kind == WAL_FRAME_BAD) {
            if (!why || r.off > size)
                __builtin_trap();
            (void)wal_seg_valid_frame_after(&r);
            break;
        }
        if (pos != want || len > size || r.off > size)
            __builtin_trap();
        decode_record(rec, len);
    }
    wal_seg_reader_free(&r);
    close(fd);
}

static char root[64], chan_dir[96], seg[160];

static int on_record(void *arg, uint64_t pos, const void *rec, size_t len)
{
    uint64_t *next = arg;
    if (pos != *next)
        __builtin_trap();
    (*next)++;
    decode_record(rec, len);
    return 0;
}

static void clear_chan(void)
{
    DIR *d = opendir(chan_dir);
    if (!d)
        return;
    struct dirent *e;
    char path[400];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", chan_dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

/* The scratch folder goes at exit (the channel's files, then the two folders). */
static void remove_root(void)
{
    clear_chan();
    rmdir(chan_dir);
    rmdir(root);
}

static void whole_backend(const uint8_t *p, size_t size)
{
    if (!root[0]) {
        atexit(remove_root);
        snprintf(root, sizeof root, "/dev/shm/vdb_fuzz_wal.%d", (int)getpid());
        snprintf(chan_dir, sizeof chan_dir, "%s/c", root);
        snprintf(seg, sizeof seg, "%s/00000000000000000001.log", chan_dir);
        if (mkdir(root, 0700) != 0 || mkdir(chan_dir, 0700) != 0) {
            snprintf(root, sizeof root, "/tmp/vdb_fuzz_wal.%d", (int)getpid());
            snprintf(chan_dir, sizeof chan_dir, "%s/c", root);
            snprintf(seg, sizeof seg, "%s/00000000000000000001.log", chan_dir);
            mkdir(root, 0700);
            mkdir(chan_dir, 0700);
        }
    }
    clear_chan();
    FILE *f = fopen(seg, "wb");
    if (!f || fwrite(p, 1, size, f) != size || fclose(f) != 0)
        abort();
    char uri[96];
    snprintf(uri, sizeof uri, "wal://%s", root);
    vdb_backend_options o = {.sync = VDB_SYNC_OFF, .disable_io_uring = 1};
    void *w;
    if (wal_open(uri, &o, &w) != VDB_OK)
        abort();
    uint64_t next = 1;
    vdb_status st = wal_read(w, "c", 1, on_record, &next);
    if (st != VDB_OK && st != VDB_ECORRUPT)
        __builtin_trap();
    if (st == VDB_ECORRUPT && !strstr(vdb_err_get(), "00000000000000000001.log"))
        __builtin_trap(); /* the message names the file */
    if (st == VDB_OK) {
        /* the torn tail is gone: an append lands right after the last good record */
        static const char rec[] = "after";
        uint64_t pos;
        if (wal_append(w, "c", rec, sizeof rec, &pos) != VDB_OK || pos != next)
            __builtin_trap();
    }
    wal_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    uint8_t *p = fuzz_copy(data + 1, size - 1);
    size--;
    if (flags & 1)
        fix_frames(p, size, flags & 2);
    if (flags & 4)
        whole_backend(p, size);
    else
        reader_only(p, size);
    free(p);
    return 0;
}

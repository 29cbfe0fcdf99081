/* fmnist: Fashion-MNIST loaders for the benchmarks (see fmnist.h). */
#include "fmnist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#ifndef VDB_SHARED_DATA
#define VDB_SHARED_DATA "."
#endif

#define IDX3_MAGIC 0x00000803u

const char *fmnist_default_data_dir(void)
{
    return VDB_SHARED_DATA;
}

/* Reads exactly n bytes; gzread also reads plain files unchanged. */
static int gz_read_all(gzFile f, const char *path, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            fprintf(stderr, "fmnist: %s: %s\n", path,
                    got == 0 ? "file is shorter than its header says" : msg);
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

int fmnist_read_idx(const char *path, size_t max_rows, float **out, size_t *rows, size_t *dim)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fmnist: cannot open %s: %s\n", path, strerror(errno ? errno : ENOENT));
        return -1;
    }
    gzbuffer(f, 1u << 20);
    unsigned char hdr[16];
    unsigned char *bytes = NULL;
    float *v = NULL;
    if (gz_read_all(f, path, hdr, sizeof hdr) != 0)
        goto fail;
    uint32_t magic = be32(hdr), count = be32(hdr + 4), r = be32(hdr + 8), c = be32(hdr + 12);
    if (magic != IDX3_MAGIC || count == 0 || r == 0 || c == 0 || r > 4096 || c > 4096) {
        fprintf(stderr, "fmnist: %s: not an IDX3 image file (magic 0x%08x, %u x %u x %u)\n",
                path, magic, count, r, c);
        goto fail;
    }
    size_t n = count, d = (size_t)r * c;
    if (max_rows && max_rows < n)
        n = max_rows;
    bytes = malloc(n * d);
    v = malloc(n * d * sizeof *v);
    if (!bytes || !v) {
        fprintf(stderr, "fmnist: %s: out of memory for %zu x %zu\n", path, n, d);
        goto fail;
    }
    if (gz_read_all(f, path, bytes, n * d) != 0)
        goto fail;
    for (size_t i = 0; i < n * d; i++)
        v[i] = (float)bytes[i];
    free(bytes);
    gzclose(f);
    *out = v;
    *rows = n;
    *dim = d;
    return 0;
fail:
    free(bytes);
    free(v);
    gzclose(f);
    return -1;
}

int fmnist_read_ivecs(const char *path, size_t max_rows, int32_t **out, size_t *rows,
                      size_t *k)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fmnist: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    int32_t *ids = NULL;
    size_t n = 0, cap = 0, width = 0;
    for (;;) {
        if (max_rows && n == max_rows)
            break;
        int32_t w;
        size_t got = fread(&w, sizeof w, 1, f);
        if (got != 1) {
            if (ferror(f)) {
                fprintf(stderr, "fmnist: %s: read error\n", path);
                goto fail;
            }
            break; /* clean end of file */
        }
        if (w <= 0 || w > 1000000 || (width && (size_t)w != width)) {
            fprintf(stderr, "fmnist: %s: record %zu has width %d (expected %zu)\n", path, n,
                    (int)w, width);
            goto fail;
        }
        width = (size_t)w;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            int32_t *grown = realloc(ids, cap * width * sizeof *ids);
            if (!grown) {
                fprintf(stderr, "fmnist: %s: out of memory\n", path);
                goto fail;
            }
            ids = grown;
        }
        if (fread(ids + n * width, sizeof *ids, width, f) != width) {
            fprintf(stderr, "fmnist: %s: record %zu is truncated\n", path, n);
            goto fail;
        }
        n++;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "fmnist: %s: no records\n", path);
        free(ids);
        return -1;
    }
    *out = ids;
    *rows = n;
    *k = width;
    return 0;
fail:
    free(ids);
    fclose(f);
    return -1;
}

/* <data_dir>/fashion-mnist/<name> if it exists, else FMNIST_SYSTEM_DIR/<name>. */
static void find_file(const char *data_dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/fashion-mnist/%s", data_dir ? data_dir : fmnist_default_data_dir(),
             name);
    if (access(path, R_OK) != 0)
        snprintf(path, size, "%s/%s", FMNIST_SYSTEM_DIR, name);
}

static int load_images(const char *data_dir, const char *name, size_t max_rows, float **out,
                       size_t *rows)
{
    char path[4096];
    size_t dim;
    find_file(data_dir, name, path, sizeof path);
    if (fmnist_read_idx(path, max_rows, out, rows, &dim) != 0)
        return -1;
    if (dim != FMNIST_DIM) {
        fprintf(stderr, "fmnist: %s: dimension %zu, expected %d\n", path, dim, FMNIST_DIM);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int fmnist_load_base(const char *data_dir, size_t max_rows, float **out, size_t *rows)
{
    return load_images(data_dir, "train-images-idx3-ubyte.gz", max_rows, out, rows);
}

int fmnist_load_queries(const char *data_dir, size_t max_rows, float **out, size_t *rows)
{
    return load_images(data_dir, "t10k-images-idx3-ubyte.gz", max_rows, out, rows);
}

int fmnist_load_groundtruth(const char *data_dir, size_t max_rows, int32_t **out,
                            size_t *rows, size_t *k)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fashion-mnist/groundtruth.ivecs",
             data_dir ? data_dir : fmnist_default_data_dir());
    return fmnist_read_ivecs(path, max_rows, out, rows, k);
}
